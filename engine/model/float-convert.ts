/**
 * Conversions between f32 and the 16-bit weight formats (bf16, IEEE f16), round-to-nearest-even,
 * and decoding of raw little-endian tensor bytes to float arrays.
 */
import type { WeightDType } from './model-spec.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 bit pattern → bf16 bits (RNE; NaN stays NaN). */
export function bitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 bit pattern → IEEE half bits (RNE; overflow → ±inf; NaN stays NaN). */
export function bitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** IEEE half bits → number. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let F16_TABLE: Float64Array | undefined;
function f16Table(): Float64Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToNumber(h);
  }
  return F16_TABLE;
}

/** bf16 bits → number. */
export function bf16ToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Rounds a number to the nearest value representable in `dtype` (as the stored weight will read back). */
export function roundTo(dtype: WeightDType, v: number): number {
  f32[0] = v;
  if (dtype === 'f32') return f32[0]!;
  if (dtype === 'bf16') return bf16ToNumber(bitsToBf16(u32[0]!));
  return f16ToNumber(bitsToF16(u32[0]!));
}

/** Encodes f32 values as little-endian bytes of `dtype` into `out` (which must hold values.length × size bytes). */
export function encodeInto(dtype: WeightDType, values: Float32Array, out: Buffer): number {
  const n = values.length;
  if (dtype === 'f32') {
    Buffer.from(values.buffer, values.byteOffset, n * 4).copy(out, 0);
    return n * 4;
  }
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const dst = new Uint16Array(out.buffer, out.byteOffset, n);
  if (dtype === 'bf16') for (let i = 0; i < n; i++) dst[i] = bitsToBf16(bits[i]!);
  else for (let i = 0; i < n; i++) dst[i] = bitsToF16(bits[i]!);
  return n * 2;
}

/** Decodes little-endian tensor bytes of `dtype` into a Float64Array (exact). */
export function decodeToF64(dtype: WeightDType, bytes: Uint8Array): Float64Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.from(bytes);
  if (dtype === 'f32') return Float64Array.from(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4));
  const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  const out = new Float64Array(src.length);
  if (dtype === 'bf16') {
    const tmp = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) tmp[i] = src[i]! << 16;
    const asF = new Float32Array(tmp.buffer);
    for (let i = 0; i < src.length; i++) out[i] = asF[i]!;
  } else {
    const table = f16Table();
    for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  }
  return out;
}

/** Decodes little-endian tensor bytes of `dtype` into a Float32Array (exact for all three dtypes). */
export function decodeToF32(dtype: WeightDType, bytes: Uint8Array): Float32Array {
  return Float32Array.from(decodeToF64(dtype, bytes));
}
