/**
 * FP8 E4M3 ("e4m3fn", OCP FP8): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits. Exponent 0: subnormals
 * m/8 · 2⁻⁶; exponents 1..15: (1 + m/8) · 2^(e−7); S.1111.111 (0x7F, 0xFF) is NaN; no infinities; largest 448.
 * Also: block dequantization to BF16 (value × scale rounded once, to nearest even) and the encoder make-model uses.
 */
import { ModelLoadError } from '../errors.js';

/** Largest finite E4M3 magnitude. */
export const E4M3_MAX = 448;

/** True for the two NaN codes. */
export const isE4m3Nan = (code: number): boolean => (code & 0x7f) === 0x7f;

/** Every code's value (NaN for 0x7F / 0xFF); exact in float64 (and f32). */
export const E4M3_VALUES: Float64Array = (() => {
  const t = new Float64Array(256);
  for (let c = 0; c < 256; c++) {
    const e = (c >>> 3) & 15, m = c & 7;
    const mag = isE4m3Nan(c) ? NaN : e === 0 ? (m / 8) * 2 ** -6 : (1 + m / 8) * 2 ** (e - 7);
    t[c] = c & 0x80 ? -mag : mag;
  }
  return t;
})();

/** An F8_E4M3 tensor holds a NaN code (0x7F or 0xFF): the checkpoint is damaged. */
export class Fp8NanError extends ModelLoadError {
  override name = 'Fp8NanError';
  override code = 'fp8_nan';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round half to even of a non-negative number. */
function rne(q: number): number {
  const r = Math.floor(q), frac = q - r;
  return frac > 0.5 || (frac === 0.5 && r % 2 === 1) ? r + 1 : r;
}

/** floor(log2 a) for a > 0, exact (Math.log2 may be off by one next to powers of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** A float64 value → bf16 bits, rounded once to nearest even (±inf beyond bf16's range; NaN → 0x7fc0). */
export function f64ToBf16(v: number): number {
  if (Number.isNaN(v)) return 0x7fc0;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7f80;
  const ulp = 2 ** (Math.max(exponentOf(a), -126) - 7); // 8 significant bits; subnormals below 2⁻¹²⁶
  f32[0] = rne(a / ulp) * ulp; // representable in bf16, so exactly in f32 (or +inf past the range)
  return sign | (u32[0]! >>> 16);
}

/** A number → the nearest E4M3 code (ties to even), saturating at ±448 (never NaN; NaN input → 0x7F). */
export function encodeE4m3(v: number): number {
  if (Number.isNaN(v)) return 0x7f;
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.abs(v);
  if (a >= E4M3_MAX) return sign | 0x7e;
  if (a === 0) return sign;
  const e = Math.max(exponentOf(a), -6);
  const q = rne(a / 2 ** (e - 3)); // 8..16 for normals, 0..8 at e = −6 (8 is the smallest normal)
  if (e === -6 && q < 8) return sign | q;
  const [ee, m] = q === 16 ? [e + 1, 0] : [e, q - 8];
  return ee + 7 > 15 || (ee + 7 === 15 && m === 7) ? sign | 0x7e : sign | ((ee + 7) << 3) | m;
}

/**
 * BF16 bits of every code times `scale` (a 256-entry table; NaN codes map to NaN bits — callers refuse them first).
 * value × scale is exact in float64 (4 × 24 significant bits), so each entry is rounded once.
 */
export function scaledBf16Table(scale: number, out = new Uint16Array(256)): Uint16Array {
  for (let c = 0; c < 256; c++) out[c] = f64ToBf16(E4M3_VALUES[c]! * scale);
  return out;
}

/** Index of the first NaN code in `codes`, or −1. */
export function firstE4m3Nan(codes: Uint8Array): number {
  const buf = Buffer.from(codes.buffer, codes.byteOffset, codes.byteLength);
  const a = buf.indexOf(0x7f), b = buf.indexOf(0xff);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}

/**
 * Dequantizes a block-scaled E4M3 matrix batch to BF16: `codes` is [batch, rows, cols] row-major, `scales` is
 * [batch, ⌈rows/br⌉, ⌈cols/bc⌉]; element (b, r, c) = code value × scales[b, r/br, c/bc], rounded to BF16. Returns the
 * BF16 elements (the caller checked for NaN codes and finite scales).
 */
export function dequantizeE4m3Blocks(codes: Uint8Array, scales: ArrayLike<number>, batch: number, rows: number, cols: number, br: number, bc: number): Uint16Array {
  const out = new Uint16Array(batch * rows * cols);
  const nbr = Math.ceil(rows / br), nbc = Math.ceil(cols / bc);
  const tables = new Uint16Array(nbc * 256);
  for (let b = 0; b < batch; b++) {
    for (let rb = 0; rb < nbr; rb++) {
      for (let cb = 0; cb < nbc; cb++) scaledBf16Table(scales[(b * nbr + rb) * nbc + cb]!, tables.subarray(cb * 256, (cb + 1) * 256));
      for (let r = rb * br; r < Math.min(rows, (rb + 1) * br); r++) {
        const base = (b * rows + r) * cols;
        for (let c = 0; c < cols; c++) out[base + c] = tables[((c / bc) | 0) * 256 + codes[base + c]!]!;
      }
    }
  }
  return out;
}
