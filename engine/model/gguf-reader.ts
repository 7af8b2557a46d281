/**
 * Reads the header of a GGUF file (v2/v3): its metadata key/values and tensor infos, without reading
 * tensor data. The file is read in chunks through a cursor, so a multi-gigabyte model costs only its
 * header. Malformed or truncated files are `ModelLoadError`s naming the file (and the key).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ModelLoadError } from '../errors.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufValueType as T } from './gguf-format.js';

/** A numeric array as read: a typed array of the element type (64-bit integers as bigint arrays). */
export type GgufNumericArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigUint64Array | BigInt64Array;

/** A metadata value: 64-bit integers are bigint, arrays of arrays are plain arrays. */
export type GgufMetaValue = number | bigint | boolean | string | string[] | boolean[] | GgufNumericArray | GgufMetaValue[];

/** One tensor info: `dims` fastest-varying first (ggml ne[]), `offset` relative to the data section. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  offset: number;
}

/** The header of a GGUF file. */
export interface GgufHeader {
  path: string;
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
}

const CHUNK = 1 << 20;

/** Little-endian reader over a file descriptor, refilling a window as it advances. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(private readonly fd: number, readonly size: number, private readonly path: string) {}

  fail(message: string): never {
    throw new ModelLoadError(`${this.path}: ${message} (at byte ${this.pos})`, this.path);
  }

  /** Returns the window and the offset of `pos` in it, holding at least n bytes. */
  private need(n: number): number {
    if (n > this.size - this.pos) this.fail(`truncated GGUF: ${n} bytes needed, ${this.size - this.pos} left`);
    let at = this.pos - this.bufStart;
    if (at + n > this.buf.length) {
      this.buf = Buffer.alloc(Math.min(Math.max(CHUNK, n), this.size - this.pos));
      const got = readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      if (got < n) this.fail('short read');
      this.bufStart = this.pos;
      at = 0;
    }
    this.pos += n;
    return at;
  }

  u8(): number { const at = this.need(1); return this.buf.readUInt8(at); }
  i8(): number { const at = this.need(1); return this.buf.readInt8(at); }
  u16(): number { const at = this.need(2); return this.buf.readUInt16LE(at); }
  i16(): number { const at = this.need(2); return this.buf.readInt16LE(at); }
  u32(): number { const at = this.need(4); return this.buf.readUInt32LE(at); }
  i32(): number { const at = this.need(4); return this.buf.readInt32LE(at); }
  f32(): number { const at = this.need(4); return this.buf.readFloatLE(at); }
  f64(): number { const at = this.need(8); return this.buf.readDoubleLE(at); }
  u64(): bigint { const at = this.need(8); return this.buf.readBigUInt64LE(at); }
  i64(): bigint { const at = this.need(8); return this.buf.readBigInt64LE(at); }

  /** A u64 count or length that must fit what is left of the file at `unit` bytes per element. */
  count(unit: number, what: string): number {
    const n = this.u64();
    if (n > BigInt(Math.floor((this.size - this.pos) / Math.max(unit, 1)))) this.fail(`${what} of ${n} does not fit in the file`);
    return Number(n);
  }

  str(): string {
    const n = this.count(1, 'string length');
    const at = this.need(n);
    try {
      return UTF8.decode(this.buf.subarray(at, at + n));
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes per element of the fixed-size value types (0 for string/array). */
const SIZE: Record<number, number> = {
  [T.U8]: 1, [T.I8]: 1, [T.BOOL]: 1, [T.U16]: 2, [T.I16]: 2, [T.U32]: 4, [T.I32]: 4, [T.F32]: 4, [T.U64]: 8, [T.I64]: 8, [T.F64]: 8,
};

function readScalar(c: Cursor, type: number): number | bigint | boolean | string {
  switch (type) {
    case T.U8: return c.u8();
    case T.I8: return c.i8();
    case T.U16: return c.u16();
    case T.I16: return c.i16();
    case T.U32: return c.u32();
    case T.I32: return c.i32();
    case T.F32: return c.f32();
    case T.F64: return c.f64();
    case T.U64: return c.u64();
    case T.I64: return c.i64();
    case T.BOOL: {
      const b = c.u8();
      if (b > 1) c.fail(`bool value ${b}`);
      return b === 1;
    }
    case T.STRING: return c.str();
    default: return c.fail(`unknown value type ${type}`);
  }
}

const TYPED: Record<number, new (n: number) => GgufNumericArray> = {
  [T.U8]: Uint8Array, [T.I8]: Int8Array, [T.U16]: Uint16Array, [T.I16]: Int16Array, [T.U32]: Uint32Array, [T.I32]: Int32Array,
  [T.F32]: Float32Array, [T.F64]: Float64Array, [T.U64]: BigUint64Array, [T.I64]: BigInt64Array,
};

function readValue(c: Cursor, type: number, depth = 0): GgufMetaValue {
  if (type !== T.ARRAY) return readScalar(c, type);
  if (depth > 8) c.fail('arrays nested deeper than 8');
  const elem = c.u32();
  const n = c.count(SIZE[elem] ?? 8, 'array length');
  const Typed = TYPED[elem];
  if (Typed) {
    const out = new Typed(n);
    for (let i = 0; i < n; i++) (out as unknown as (number | bigint)[])[i] = readScalar(c, elem) as number | bigint;
    return out;
  }
  if (elem === T.STRING || elem === T.BOOL) return Array.from({ length: n }, () => readScalar(c, elem)) as string[] | boolean[];
  if (elem === T.ARRAY) return Array.from({ length: n }, () => readValue(c, T.ARRAY, depth + 1));
  return c.fail(`unknown array element type ${elem}`);
}

/** Metadata of a GGUF file with typed accessors; a missing key or wrong type is a ModelLoadError naming file and key. */
export class GgufMetadata {
  constructor(readonly path: string, readonly entries: ReadonlyMap<string, GgufMetaValue>) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): GgufMetaValue | undefined {
    return this.entries.get(key);
  }

  private fail(key: string, want: string): never {
    const v = this.entries.get(key);
    throw new ModelLoadError(`${this.path}: metadata '${key}' ${v === undefined ? 'is missing' : `is not ${want}`}`, this.path);
  }

  string(key: string): string {
    const v = this.entries.get(key);
    return typeof v === 'string' ? v : this.fail(key, 'a string');
  }

  /** An integer (any integer type, 64-bit ones within the safe range) or float. */
  number(key: string): number {
    const v = this.entries.get(key);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return this.fail(key, 'a number');
  }

  bool(key: string): boolean {
    const v = this.entries.get(key);
    return typeof v === 'boolean' ? v : this.fail(key, 'a bool');
  }

  strings(key: string): string[] {
    const v = this.entries.get(key);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : this.fail(key, 'an array of strings');
  }

  /** An array of 32-bit (or narrower) integers. */
  ints(key: string): Int32Array {
    const v = this.entries.get(key);
    if (v instanceof Int32Array) return v;
    if (v instanceof Uint8Array || v instanceof Int8Array || v instanceof Uint16Array || v instanceof Int16Array) return Int32Array.from(v);
    if (v instanceof Uint32Array && v.every((x) => x <= 0x7fffffff)) return Int32Array.from(v);
    return this.fail(key, 'an array of 32-bit integers');
  }
}

/** Reads the header of the GGUF file at `path` (metadata and tensor infos, no tensor data). */
export function readGgufHeader(path: string): GgufHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ModelLoadError(`cannot open ${path}: ${(e as Error).message}`, path);
  }
  try {
    const c = new Cursor(fd, fstatSync(fd).size, path);
    if (c.u32() !== GGUF_MAGIC) c.fail('not a GGUF file (bad magic)');
    const version = c.u32();
    if (version < 2 || version > GGUF_VERSION) c.fail(`unsupported GGUF version ${version}`);
    const nTensors = c.count(24, 'tensor count');
    const nKv = c.count(12, 'key/value count');
    const entries = new Map<string, GgufMetaValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.str();
      if (entries.has(key)) c.fail(`duplicate metadata key '${key}'`);
      entries.set(key, readValue(c, c.u32()));
    }
    const metadata = new GgufMetadata(path, entries);
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str();
      const nDims = c.u32();
      if (nDims > 8) c.fail(`tensor '${name}' has ${nDims} dimensions`);
      const dims = Array.from({ length: nDims }, () => Number(c.u64()));
      tensors.push({ name, dims, type: c.u32(), offset: Number(c.u64()) });
    }
    const alignment = metadata.has('general.alignment') ? metadata.number('general.alignment') : GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment <= 0) c.fail(`bad general.alignment ${alignment}`);
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    return { path, version, metadata, tensors, dataOffset };
  } finally {
    closeSync(fd);
  }
}
