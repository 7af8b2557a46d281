/**
 * KV snapshot segment files: the K/V of positions [start, end) of one session, valid for exactly the
 * token prefix it was computed from. Layout, checks and atomicity: docs/formats.md.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, tokenBytes } from './checksum.js';
import { ModelMismatchError, SnapshotCorruptError } from './errors.js';
import { writeFileAtomic } from '../engine/util/atomic-file.js';

export const SNAPSHOT_MAGIC = 'RSKV';
export const SNAPSHOT_VERSION = 1;

export interface SegmentHeader {
  format: 'resident-kv';
  /** Engine fingerprint + KV dtype: a segment is refused by any other model. */
  model: string;
  bytesPerToken: number;
  start: number;
  end: number;
  /** prefixHash(tokens, start): the tokens before this segment that its K/V depends on. */
  prefixHash: string;
  chunks: number;
  createdAt: number;
}

/** A parsed segment head: header + its tokens, and where the chunk data begins. */
export interface SegmentInfo {
  file: string;
  header: SegmentHeader;
  tokens: number[];
  dataOffset: number;
}

/** Segment file name for positions [start, end). */
export function segmentName(start: number, end: number): string {
  return `${String(start).padStart(10, '0')}-${String(end).padStart(10, '0')}.rkv`;
}

export function parseSegmentName(name: string): { start: number; end: number } | null {
  const m = /^(\d{10})-(\d{10})\.rkv$/.exec(name);
  return m ? { start: Number(m[1]), end: Number(m[2]) } : null;
}

/**
 * Writes a segment atomically. `readChunk(s, e, into)` fills `into` with the K/V of positions [s, e)
 * (slot.readKv) and returns it; it is called chunk by chunk with one reused buffer, so a large segment
 * never sits in memory whole and no chunk lands on freshly mapped pages.
 */
export async function writeSegment(
  file: string,
  head: Omit<SegmentHeader, 'format' | 'chunks' | 'createdAt'>,
  tokens: ArrayLike<number>,
  chunkPositions: number,
  readChunk: (s: number, e: number, into: Buffer) => Promise<Uint8Array>,
): Promise<number> {
  const n = head.end - head.start;
  if (tokens.length !== n) throw new RangeError(`segment [${head.start}, ${head.end}) needs ${n} tokens, got ${tokens.length}`);
  const chunks = Math.ceil(n / chunkPositions);
  const header: SegmentHeader = { format: 'resident-kv', ...head, chunks, createdAt: Date.now() };
  async function* parts(): AsyncGenerator<Uint8Array> {
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const h = Buffer.alloc(16);
    h.write(SNAPSHOT_MAGIC, 0, 'latin1');
    h.writeUInt32LE(SNAPSHOT_VERSION, 4);
    h.writeUInt32LE(json.length, 8);
    h.writeUInt32LE(crc32(json), 12);
    yield h;
    yield json;
    const tb = tokenBytes(tokens);
    const tc = Buffer.alloc(4);
    tc.writeUInt32LE(crc32(tb), 0);
    yield tb;
    yield tc;
    const buf = Buffer.allocUnsafe(Math.min(n, chunkPositions) * head.bytesPerToken);
    for (let s = head.start; s < head.end; s += chunkPositions) {
      const e = Math.min(head.end, s + chunkPositions);
      const data = await readChunk(s, e, buf.subarray(0, (e - s) * head.bytesPerToken));
      if (data.byteLength !== (e - s) * head.bytesPerToken) {
        throw new RangeError(`readKv(${s}, ${e}) gave ${data.byteLength} bytes, expected ${(e - s) * head.bytesPerToken}`);
      }
      const ch = Buffer.alloc(12);
      ch.writeUInt32LE(e - s, 0);
      ch.writeUInt32LE(data.byteLength, 4);
      ch.writeUInt32LE(crc32(data), 8);
      yield ch;
      yield data;
    }
  }
  return writeFileAtomic(file, parts());
}

/** Reads `len` bytes at `pos` into `into` (when given and large enough) or a new buffer; short at end of file. */
async function readAt(fh: FileHandle, pos: number, len: number, into?: Buffer): Promise<Buffer> {
  const b = into && into.length >= len ? into.subarray(0, len) : Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(b, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === len ? b : b.subarray(0, got);
}

/**
 * Reads and checks a segment's header and tokens (not the K/V data). Throws SnapshotCorruptError
 * on damage and ModelMismatchError when written for another model.
 */
export async function readSegmentInfo(file: string, sessionId: string, model: string, bytesPerToken: number): Promise<SegmentInfo> {
  const bad = (why: string) => new SnapshotCorruptError(sessionId, file, why);
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const h = await readAt(fh, 0, 16);
    if (h.length < 16) throw bad(`file is ${size} bytes, shorter than its header`);
    if (h.toString('latin1', 0, 4) !== SNAPSHOT_MAGIC) throw bad('bad magic');
    const version = h.readUInt32LE(4);
    if (version !== SNAPSHOT_VERSION) throw bad(`unsupported snapshot version ${version}`);
    const jl = h.readUInt32LE(8);
    if (jl > 1 << 20 || 16 + jl > size) throw bad(`header length ${jl} out of range`);
    const json = await readAt(fh, 16, jl);
    if (crc32(json) !== h.readUInt32LE(12)) throw bad('header checksum mismatch');
    let header: SegmentHeader;
    try {
      header = JSON.parse(json.toString('utf8')) as SegmentHeader;
    } catch {
      throw bad('header is not JSON');
    }
    if (header.format !== 'resident-kv' || !(header.end > header.start && header.start >= 0)) throw bad('header fields invalid');
    if (header.model !== model) throw new ModelMismatchError(sessionId, file, model, header.model);
    if (header.bytesPerToken !== bytesPerToken) {
      throw new ModelMismatchError(sessionId, file, `${model} (${bytesPerToken} B/token)`, `${header.model} (${header.bytesPerToken} B/token)`);
    }
    const n = header.end - header.start;
    const expectSize = 16 + jl + n * 4 + 4 + header.chunks * 12 + n * bytesPerToken;
    if (size !== expectSize) throw bad(`file is ${size} bytes, expected ${expectSize} (truncated or extended)`);
    const tb = await readAt(fh, 16 + jl, n * 4 + 4);
    if (crc32(tb.subarray(0, n * 4)) !== tb.readUInt32LE(n * 4)) throw bad('token checksum mismatch');
    const tokens = new Array<number>(n);
    for (let i = 0; i < n; i++) tokens[i] = tb.readInt32LE(i * 4);
    return { file, header, tokens, dataOffset: 16 + jl + n * 4 + 4 };
  } finally {
    await fh.close();
  }
}

/**
 * Streams a segment's K/V chunks, each checked before it is handed to `onChunk(start, data)`
 * (slot.writeKv). Stops after the chunk that covers position `upTo`. On a bad chunk throws
 * SnapshotCorruptError: the chunks already delivered were good, the bad one was never delivered.
 * `data` stays intact until onChunk's promise settles, then its buffer is reused; calls never overlap.
 */
export async function loadSegmentData(
  info: SegmentInfo,
  sessionId: string,
  upTo: number,
  onChunk: (start: number, data: Buffer) => Promise<void>,
): Promise<void> {
  const bad = (why: string) => new SnapshotCorruptError(sessionId, info.file, why);
  const { header } = info;
  const fh = await open(info.file, 'r');
  // Two buffers in turn: chunk c + 1 is read and checked while chunk c is being written (onChunk); a
  // buffer is refilled only after the onChunk that used it has settled.
  const bufs: Buffer[] = [];
  let pending: Promise<void> | null = null;
  const settle = async () => {
    const p = pending;
    pending = null;
    if (p) await p;
  };
  try {
    let off = info.dataOffset;
    let pos = header.start;
    for (let c = 0; c < header.chunks && pos < upTo; c++) {
      const ch = await readAt(fh, off, 12);
      if (ch.length < 12) throw bad(`chunk ${c} header truncated`);
      const positions = ch.readUInt32LE(0);
      const len = ch.readUInt32LE(4);
      if (positions < 1 || pos + positions > header.end || len !== positions * header.bytesPerToken) throw bad(`chunk ${c} header invalid`);
      if (!bufs[c % 2] || bufs[c % 2]!.length < len) bufs[c % 2] = Buffer.allocUnsafe(len);
      const data = await readAt(fh, off + 12, len, bufs[c % 2]);
      if (data.length < len) throw bad(`chunk ${c} truncated`);
      if (crc32(data) !== ch.readUInt32LE(8)) throw bad(`chunk ${c} checksum mismatch`);
      await settle();
      pending = onChunk(pos, data);
      pending.catch(() => {}); // observed by settle(); not an unhandled rejection meanwhile
      pos += positions;
      off += 12 + len;
    }
    await settle();
  } finally {
    await settle().catch(() => {}); // on an error, the chunk in flight finishes before the file closes
    await fh.close();
  }
}

/** Whole-file check of a segment (all checksums), for `verify` tooling and tests. */
export async function verifySegment(file: string, sessionId: string, model: string, bytesPerToken: number): Promise<SegmentInfo> {
  const info = await readSegmentInfo(file, sessionId, model, bytesPerToken);
  await loadSegmentData(info, sessionId, info.header.end, async () => {});
  return info;
}

