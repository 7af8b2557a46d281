/**
 * The E4M3 codec against values computed independently (every one of the 256 codes), BF16 rounding of the exact
 * value × scale products (once, to nearest even), block dequantization, and the encoder make-model uses.
 */
import { describe, expect, it } from 'vitest';
import { bitsToBf16 } from '../../engine/model/float-convert.js';
import { dequantizeE4m3Blocks, E4M3_VALUES, encodeE4m3, f64ToBf16, firstE4m3Nan, isE4m3Nan } from '../../engine/model/fp8-e4m3.js';

/** Code → value from the OCP definition, written out per field: (−1)^S · 2^(E−7) · (1 + M/8), subnormal 2^−6 · M/8. */
function ocp(code: number): number {
  const s = code >= 128 ? -1 : 1;
  const E = Math.floor((code % 128) / 8);
  const M = code % 8;
  if (E === 15 && M === 7) return NaN;
  return E === 0 ? s * Math.pow(2, -6) * (M / 8) : s * Math.pow(2, E - 7) * (1 + M / 8);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bf16Value = (bits: number) => ((u32[0] = bits << 16), f32[0]!);

describe('E4M3 decoding', () => {
  it('gives every one of the 256 codes its value', () => {
    for (let c = 0; c < 256; c++) {
      const want = ocp(c);
      if (Number.isNaN(want)) {
        expect(E4M3_VALUES[c], `code ${c}`).toBeNaN();
        expect(isE4m3Nan(c)).toBe(true);
      } else {
        expect(Object.is(E4M3_VALUES[c], want), `code 0x${c.toString(16)}: ${E4M3_VALUES[c]} vs ${want}`).toBe(true);
        expect(isE4m3Nan(c)).toBe(false);
      }
    }
  });

  it('has the landmarks of the format', () => {
    expect(E4M3_VALUES[0x7e]).toBe(448); // largest
    expect(E4M3_VALUES[0xfe]).toBe(-448);
    expect(E4M3_VALUES[0x38]).toBe(1);
    expect(E4M3_VALUES[0x08]).toBe(2 ** -6); // smallest normal
    expect(E4M3_VALUES[0x07]).toBe(7 * 2 ** -9); // largest subnormal
    expect(E4M3_VALUES[0x01]).toBe(2 ** -9); // smallest subnormal
    expect(Object.is(E4M3_VALUES[0x80], -0)).toBe(true);
    expect([...E4M3_VALUES].filter((v) => !Number.isFinite(v))).toHaveLength(2); // two NaNs, no infinities
  });

  it('finds NaN codes', () => {
    expect(firstE4m3Nan(new Uint8Array([1, 2, 0x7e, 0xfe]))).toBe(-1);
    expect(firstE4m3Nan(new Uint8Array([1, 0xff, 0x7f]))).toBe(1);
    expect(firstE4m3Nan(new Uint8Array([1, 2, 3, 0x7f]))).toBe(3);
  });
});

describe('E4M3 encoding', () => {
  it('maps every finite code value back to its code', () => {
    for (let c = 0; c < 256; c++) if (!isE4m3Nan(c)) expect(encodeE4m3(E4M3_VALUES[c]!), `code ${c}`).toBe(c);
  });

  it('rounds to nearest, ties to the even code, and saturates at ±448', () => {
    for (let c = 0; c < 0x7e; c++) {
      const lo = E4M3_VALUES[c]!, hi = E4M3_VALUES[c + 1]!;
      const mid = (lo + hi) / 2;
      expect(encodeE4m3(mid), `tie between ${c} and ${c + 1}`).toBe(c % 2 === 0 ? c : c + 1);
      expect(encodeE4m3(mid - (hi - lo) / 8)).toBe(c);
      expect(encodeE4m3(mid + (hi - lo) / 8)).toBe(c + 1);
      expect(encodeE4m3(-(mid + (hi - lo) / 8))).toBe(0x80 | (c + 1));
    }
    expect(encodeE4m3(460)).toBe(0x7e);
    expect(encodeE4m3(1e9)).toBe(0x7e);
    expect(encodeE4m3(-1e9)).toBe(0xfe);
    expect(encodeE4m3(2 ** -11)).toBe(0); // below half the smallest subnormal
  });
});

describe('BF16 rounding of float64 products', () => {
  it('agrees with the f32 → bf16 rounding wherever the value is an f32', () => {
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const bits = i < 16 ? [0, 0x80000000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0x7f7f8000, 0x3f808000, 0x3f818000, 0x3f80c000, 0xbf808000, 0x00008000, 0x00018000, 0x7f800000, 0xff800000, 0x3f7fffff][i]! : x;
      u32[0] = bits;
      const v = f32[0]!;
      if (Number.isNaN(v)) continue; // NaN payloads: f64ToBf16 gives the canonical 0x7fc0 (weights are never NaN)
      expect(f64ToBf16(v), `bits 0x${bits.toString(16)}`).toBe(bitsToBf16(bits));
    }
  });

  it('rounds once: a value just above a tie goes up even where f32 would make it a tie', () => {
    const v = 1 + 2 ** -8 + 2 ** -30; // f32 rounding gives 1 + 2⁻⁸, a tie that would go down to 1
    expect(bf16Value(f64ToBf16(v))).toBe(1 + 2 ** -7);
    expect(bf16Value(f64ToBf16(1 + 2 ** -8))).toBe(1); // the exact tie goes to even
    expect(bf16Value(f64ToBf16(-(1 + 3 * 2 ** -8)))).toBe(-(1 + 2 ** -6)); // tie to even, upward
  });
});

describe('block dequantization', () => {
  it('scales each element by its block and rounds to BF16', () => {
    // 2 matrices of 3 × 5 with 2 × 2 blocks: scales [2, 2, 3] (partial blocks at the edges)
    const batch = 2, rows = 3, cols = 5, br = 2, bc = 2;
    const codes = Uint8Array.from({ length: batch * rows * cols }, (_, i) => (i * 37 + 11) % 256).map((c) => (isE4m3Nan(c) ? 0x3a : c));
    const scales = Float64Array.from({ length: batch * 2 * 3 }, (_, i) => Math.fround(0.01 * (i + 1) + 1e-5 * i));
    const got = dequantizeE4m3Blocks(codes, scales, batch, rows, cols, br, bc);
    for (let b = 0; b < batch; b++)
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const i = (b * rows + r) * cols + c;
          const want = ocp(codes[i]!) * scales[(b * 2 + Math.floor(r / br)) * 3 + Math.floor(c / bc)]!;
          const g = bf16Value(got[i]!);
          // the nearest bf16: within half a bf16 ulp of the exact product
          expect(Math.abs(g - want), `element ${i}`).toBeLessThanOrEqual(Math.abs(want) * 2 ** -8);
          expect(got[i]).toBe(f64ToBf16(want));
        }
  });
});
