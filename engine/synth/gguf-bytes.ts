/** GGUF's little-endian encoding of metadata key/values (the header part our writer emits). */
import { GgufValueType as T } from '../model/gguf-format.js';

/** Accumulates GGUF bytes in little-endian order. */
export class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  bool(v: boolean): void {
    this.push(Buffer.from([v ? 1 : 0]));
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad(to: number): void {
    const n = (to - (this.length % to)) % to;
    if (n) this.push(Buffer.alloc(n));
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A GGUF metadata value. */
export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] }
  | { type: 'i32s'; value: ArrayLike<number> }
  | { type: 'bools'; value: boolean[] };

/** Writes one metadata key/value: key, value type, value. */
export function writeKv(w: ByteWriter, key: string, v: GgufValue): void {
  w.str(key);
  switch (v.type) {
    case 'u32': w.u32(T.U32); w.u32(v.value); break;
    case 'i32': w.u32(T.I32); w.i32(v.value); break;
    case 'u64': w.u32(T.U64); w.u64(v.value); break;
    case 'f32': w.u32(T.F32); w.f32(v.value); break;
    case 'bool': w.u32(T.BOOL); w.bool(v.value); break;
    case 'string': w.u32(T.STRING); w.str(v.value); break;
    case 'strings': w.u32(T.ARRAY); w.u32(T.STRING); w.u64(v.value.length); for (const s of v.value) w.str(s); break;
    case 'i32s': w.u32(T.ARRAY); w.u32(T.I32); w.u64(v.value.length); for (let i = 0; i < v.value.length; i++) w.i32(v.value[i]!); break;
    case 'bools': w.u32(T.ARRAY); w.u32(T.BOOL); w.u64(v.value.length); for (const b of v.value) w.bool(b); break;
  }
}
