/**
 * Float64 reference for the GGUF block types, written from the format description (ggml's block layouts), not
 * from the engine: dequantization, the 8-bit activation blocks the kernels use, and random valid blocks.
 *   q8_0: f16 d, 32 × i8 q: x = d·q                        (34 bytes / 32)
 *   q4_0: f16 d, 16 bytes: x_l = d·(lo(b_l) − 8), x_{l+16} = d·(hi(b_l) − 8)   (18 / 32)
 *   q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles  (144 / 256)
 *   q5_K: as q4_K plus 32 bytes of fifth bits before the nibbles                 (176 / 256)
 *   q6_K: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 × i8 scales, f16 d (210 / 256)
 */
import { f16ToNumber, roundTo } from '../../engine/model/float-convert.js';

export type QuantType = 'q8_0' | 'q4_0' | 'q4_k' | 'q5_k' | 'q6_k';
export const QUANT_CODE: Record<QuantType, number> = { q8_0: 4, q4_0: 5, q4_k: 6, q5_k: 7, q6_k: 8 };
export const BLOCK: Record<QuantType, { elems: number; bytes: number }> = {
  q8_0: { elems: 32, bytes: 34 },
  q4_0: { elems: 32, bytes: 18 },
  q4_k: { elems: 256, bytes: 144 },
  q5_k: { elems: 256, bytes: 176 },
  q6_k: { elems: 256, bytes: 210 },
};

const f16 = (b: Uint8Array, at: number): number => f16ToNumber(b[at]! | (b[at + 1]! << 8));

/** Scale and min (6 bits each) of sub-block j of the 12 packed bytes at `at`. */
function scaleMin(b: Uint8Array, at: number, j: number): [number, number] {
  const q = (i: number): number => b[at + i]!;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

/** The first n values (whole blocks) of bytes in type t, as float64. */
export function dequantize(t: QuantType, bytes: Uint8Array, n: number): Float64Array {
  const { elems, bytes: bb } = BLOCK[t];
  const out = new Float64Array(n);
  for (let blk = 0; blk < n / elems; blk++) {
    const a = blk * bb, y = blk * elems;
    if (t === 'q8_0') {
      const d = f16(bytes, a);
      for (let i = 0; i < 32; i++) out[y + i] = d * ((bytes[a + 2 + i]! << 24) >> 24);
    } else if (t === 'q4_0') {
      const d = f16(bytes, a);
      for (let l = 0; l < 16; l++) {
        out[y + l] = d * ((bytes[a + 2 + l]! & 0xf) - 8);
        out[y + l + 16] = d * ((bytes[a + 2 + l]! >> 4) - 8);
      }
    } else if (t === 'q4_k' || t === 'q5_k') {
      const d = f16(bytes, a), dmin = f16(bytes, a + 2);
      const qh = a + 16, qs = a + (t === 'q5_k' ? 48 : 16);
      for (let c = 0; c < 4; c++)
        for (let e = 0; e < 2; e++) {
          const j = 2 * c + e;
          const [sc, m] = scaleMin(bytes, a + 4, j);
          for (let l = 0; l < 32; l++) {
            const byte = bytes[qs + 32 * c + l]!;
            let q = e ? byte >> 4 : byte & 0xf;
            if (t === 'q5_k' && (bytes[qh + l]! >> j) & 1) q += 16;
            out[y + 32 * j + l] = d * sc * q - dmin * m;
          }
        }
    } else {
      const d = f16(bytes, a + 208);
      for (let h = 0; h < 2; h++)
        for (let l = 0; l < 32; l++) {
          const ql0 = bytes[a + 64 * h + l]!, ql1 = bytes[a + 64 * h + 32 + l]!, qh = bytes[a + 128 + 32 * h + l]!;
          const q = [(ql0 & 0xf) | ((qh & 3) << 4), (ql1 & 0xf) | (((qh >> 2) & 3) << 4), (ql0 >> 4) | (((qh >> 4) & 3) << 4), (ql1 >> 4) | (((qh >> 6) & 3) << 4)];
          for (let p = 0; p < 4; p++) {
            const sc = (bytes[a + 192 + 8 * h + 2 * p + (l >> 4)]! << 24) >> 24;
            out[y + 128 * h + 32 * p + l] = d * sc * (q[p]! - 32);
          }
        }
    }
  }
  return out;
}

/** Random blocks of type t for rows × k values: random code bytes, f16 scales set to moderate values. */
export function randomBlocks(t: QuantType, rows: number, k: number, r: () => number): Uint8Array {
  const { elems, bytes: bb } = BLOCK[t];
  const n = (rows * k) / elems;
  const out = new Uint8Array(n * bb);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor((r() + 0.5) * 256) & 255;
  const view = new DataView(out.buffer);
  const half = (v: number): number => 0x3c00 + Math.round(Math.log2(v) * 1024);  // ≈ f16 of v in [2^-14, 2), exact enough
  for (let blk = 0; blk < n; blk++) {
    const a = blk * bb, s = 0.001 + (r() + 0.5) * 0.01;
    if (t === 'q8_0' || t === 'q4_0') view.setUint16(a, half(s * 2), true);
    else if (t === 'q6_k') view.setUint16(a + 208, half(s / 4), true);
    else {
      view.setUint16(a, half(s), true);
      view.setUint16(a + 2, half(s), true);
    }
  }
  return out;
}

const rne = (v: number): number => {
  const f = Math.floor(v), diff = v - f;
  return diff > 0.5 || (diff === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

/**
 * x (length % E == 0) as the kernels (and llama.cpp's CPU backend) quantize it for weights of block size E: per E-block
 * q = rne(x · fround(127 / amax)) in f32, d = f16(amax / 127) for E = 32 (q8_0 stores d as f16), fround(1 / id) for
 * E = 256 (q8_K); returns d·q.
 */
export function quantizeActivations(x: Float32Array, E: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / E; b++) {
    let amax = 0;
    for (let i = 0; i < E; i++) amax = Math.max(amax, Math.abs(x[E * b + i]!));
    const id = amax > 0 ? Math.fround(127 / amax) : 0;
    const d = E === 32 ? roundTo('f16', amax / 127) : id > 0 ? Math.fround(1 / id) : 0;
    for (let i = 0; i < E; i++) out[E * b + i] = d * rne(Math.fround(x[E * b + i]! * id));
  }
  return out;
}
