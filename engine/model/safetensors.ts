/**
 * Safetensors header parsing. A file is: u64 little-endian header length N, N bytes of JSON
 * `{ "__metadata__"?: {str: str}, name: {dtype, shape, data_offsets: [begin, end]} }`, then the data;
 * `data_offsets` are relative to the data start (8 + N). Only the header is read, never the data.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import type { TensorRef, WeightDType } from './model-spec.js';

/** Largest header we accept (the format's own limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * A stored element type: a weight dtype, or FP8 E4M3 (Qwen's / DeepSeek's block-quantized checkpoints, converted to
 * BF16 at load by fp8-weights.ts; nothing else accepts it).
 */
export type StoredDType = WeightDType | 'f8_e4m3';

/** A tensor reference as stored in a checkpoint, before fp8-weights.ts resolves it to a bindable TensorRef. */
export type StoredTensorRef = Omit<TensorRef<WeightDType>, 'dtype'> & { dtype: StoredDType };

const DTYPES: Record<string, { dtype: StoredDType; size: number }> = {
  BF16: { dtype: 'bf16', size: 2 },
  F16: { dtype: 'f16', size: 2 },
  F32: { dtype: 'f32', size: 4 },
  F8_E4M3: { dtype: 'f8_e4m3', size: 1 },
};

/** Bytes per element of each stored dtype. */
export const DTYPE_SIZE: Record<StoredDType, number> = { bf16: 2, f16: 2, f32: 4, f8_e4m3: 1 };

/** Safetensors dtype names of our stored dtypes. */
export const SAFETENSORS_DTYPE: Record<StoredDType, string> = { bf16: 'BF16', f16: 'F16', f32: 'F32', f8_e4m3: 'F8_E4M3' };

/** One tensor of a safetensors file; `offset` is absolute within the file. */
export interface SafetensorsEntry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  offset: number;
  nbytes: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string>;
  /** Tensors in ascending offset order. */
  tensors: SafetensorsEntry[];
}

function readExactly(fd: number, length: number, position: number, file: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new ModelLoadError(`${file}: unexpected end of file while reading the safetensors header`, file);
    done += n;
  }
  return buf;
}

/** Reads and validates the header of a safetensors file. Throws ModelLoadError / UnsupportedModelError naming file and tensor. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot open: ${(err as Error).message}`, file);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new ModelLoadError(`${file}: too short for a safetensors file (${fileSize} bytes)`, file);
    const len = readExactly(fd, 8, 0, file).readBigUInt64LE(0);
    if (len > BigInt(MAX_HEADER_BYTES) || len > BigInt(fileSize - 8)) {
      throw new ModelLoadError(`${file}: safetensors header length ${len} exceeds the file size (${fileSize}) or the 100 MB limit`, file);
    }
    const headerLen = Number(len);
    const text = readExactly(fd, headerLen, 8, file).toString('utf8');
    return parseHeaderJson(text, file, fileSize, 8 + headerLen);
  } finally {
    closeSync(fd);
  }
}

function parseHeaderJson(text: string, file: string, fileSize: number, dataStart: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${file}: safetensors header is not valid JSON: ${(err as Error).message}`, file);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelLoadError(`${file}: safetensors header is not a JSON object`, file);
  }
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  const ranges: { begin: number; end: number; name: string }[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) throw new ModelLoadError(`${file}: __metadata__ is not an object`, file);
      metadata = raw as Record<string, string>;
      continue;
    }
    const bad = (why: string): never => {
      throw new ModelLoadError(`${file}: tensor '${name}': ${why}`, file, name);
    };
    if (typeof raw !== 'object' || raw === null) bad('entry is not an object');
    const { dtype, shape, data_offsets: offs } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') bad('missing dtype');
    const dt = DTYPES[dtype as string];
    if (!dt) {
      throw new UnsupportedModelError(`${file}: tensor '${name}' has dtype ${String(dtype)}; supported: BF16, F16, F32 (and F8_E4M3 with block scales)`, file, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad('shape is not a list of non-negative integers');
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad('data_offsets is not [begin, end]');
    }
    const [begin, end] = offs as [number, number];
    const dims = shape as number[];
    const nbytes = dims.reduce((a, b) => a * b, 1) * dt.size;
    if (end < begin) bad(`data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataSize) bad(`data_offsets [${begin}, ${end}] run past the end of the file (data section is ${dataSize} bytes; file truncated?)`);
    if (end - begin !== nbytes) bad(`holds ${end - begin} bytes but shape [${dims.join(', ')}] of ${dtype} needs ${nbytes}`);
    ranges.push({ begin, end, name });
    tensors.push({ name, dtype: dt.dtype, shape: dims, offset: dataStart + begin, nbytes });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1]!;
    const cur = ranges[i]!;
    if (cur.begin < prev.end) {
      throw new ModelLoadError(`${file}: tensor '${cur.name}' overlaps tensor '${prev.name}'`, file, cur.name);
    }
  }
  tensors.sort((a, b) => a.offset - b.offset);
  return { file, fileSize, dataStart, metadata, tensors };
}

/**
 * Builds a safetensors header for tensors laid out back to back in the given order.
 * Returns the full prefix (8-byte length + JSON padded with spaces to a multiple of 8) and each tensor's data offset.
 */
export function buildSafetensorsHeader(
  tensors: { name: string; dtype: StoredDType; shape: number[] }[],
  metadata: Record<string, string> = {},
): { prefix: Buffer; offsets: number[]; dataBytes: number } {
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length) json.__metadata__ = metadata;
  const offsets: number[] = [];
  let pos = 0;
  for (const t of tensors) {
    const nbytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
    json[t.name] = { dtype: SAFETENSORS_DTYPE[t.dtype], shape: t.shape, data_offsets: [pos, pos + nbytes] };
    offsets.push(pos);
    pos += nbytes;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8 + body.length);
  prefix.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(prefix, 8);
  return { prefix, offsets, dataBytes: pos };
}
