/** Checksums and hashes for persisted formats (docs/formats.md): CRC32 (node:zlib, IEEE polynomial) per record, SHA-256 for token prefixes. */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC32 (IEEE) of `data`, continuing from `value` (default 0). Unsigned 32-bit. */
export function crc32(data: Uint8Array, value = 0): number {
  return zlibCrc32(data, value) >>> 0;
}

/** Little-endian int32 bytes of token ids (the on-disk token encoding). */
export function tokenBytes(tokens: ArrayLike<number>, start = 0, end = tokens.length): Buffer {
  const out = Buffer.allocUnsafe((end - start) * 4);
  for (let i = start; i < end; i++) out.writeInt32LE(tokens[i]!, (i - start) * 4);
  return out;
}

/** Hex SHA-256 (first 32 hex chars) of tokens[0, n): identifies a token prefix, hence the KV it produces. */
export function prefixHash(tokens: ArrayLike<number>, n: number): string {
  return createHash('sha256').update(tokenBytes(tokens, 0, n)).digest('hex').slice(0, 32);
}
