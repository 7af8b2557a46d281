/**
 * GGUF block-type kernels (q8_0, q4_0, q4_K, q5_K, q6_K): every level's dequantization equals a float64 dequantizer
 * written from the format description; every level's matmul equals a float64 dot of those weights with the 8-bit
 * activation blocks the kernels use (blocks of the weight's block size: 32, or 256 for the k-quants; tight), stays near the dot with the f32 activations (the quantization error),
 * and agrees with portable; quantizeRows round-trips within each type's step size. The prefill panels
 * (quant_matmul_panel: AVX-512 VNNI, AVX2) compute the same integers, within float rounding of the tile kernels.
 */
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../../engine/native.js';
import { BLOCK, dequantize, QUANT_CODE, quantizeActivations, randomBlocks, type QuantType } from '../support/gguf-quant-reference.js';
import { maxAbs, maxAbsDiff } from '../support/numeric.js';

interface QuantBinding {
  quantizeRows(dtype: number, x: Float32Array, k: number): Uint8Array;
  dequantizeRows(level: string, dtype: number, w: Uint8Array, n: number): Float32Array;
  avx512Vnni: boolean;
}
const binding = nativeBinding();
const quant = binding as unknown as QuantBinding;
const levels = binding.kernelLevels;
const TYPES: QuantType[] = ['q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k'];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

function matmulRef(x: ArrayLike<number>, n: number, k: number, w: Float64Array, rows: number, r0: number, r1: number): Float64Array {
  const y = new Float64Array(n * rows);
  for (let t = 0; t < n; t++)
    for (let c = r0; c < r1; c++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += x[t * k + i]! * w[c * k + i]!;
      y[t * rows + c] = s;
    }
  return y;
}

console.log(`gguf quant kernels: levels ${levels.join(', ')}; AVX512_VNNI ${quant.avx512Vnni}`);

describe('dequantization: every level equals the float64 reference dequantizer', () => {
  for (const t of TYPES)
    for (const level of levels)
      it(`${t} ${level}`, () => {
        const k = 512, rows = 6;
        const w = randomBlocks(t, rows, k, rng(QUANT_CODE[t]));
        const ref = dequantize(t, w, rows * k);
        const got = quant.dequantizeRows(level, QUANT_CODE[t], w, rows * k);
        expect(maxAbsDiff(got, ref) / maxAbs(ref)).toBeLessThan(1e-6);
      });
});

describe('matmul: every level against float64 references and portable', () => {
  for (const t of TYPES)
    for (const level of levels)
      it(`${t} ${level}`, () => {
        const mm = binding.kernelMatmul;
        const rows = 21, E = BLOCK[t].elems;
        // 32-blocks: k % 64 != 0 runs AVX2 on the AVX-512 level; k = 2048 takes AVX-512's row tile past its L1 budget (3+ tokens)
        for (const k of [E, 2 * E, 4 * E, 1024 + (E === 32 ? 32 : 0), ...(E === 32 ? [512, 2048] : [])])
          for (const n of [1, 2, 3, 4, 5, 7, 16, 17, 40]) {
            const r = rng(n * 7919 + k + QUANT_CODE[t]);
            const x = Float32Array.from({ length: n * k }, () => r() * 2);
            const wb = randomBlocks(t, rows, k, r);
            const wv = dequantize(t, wb, rows * k);
            for (const [r0, r1] of [[0, rows], [3, 17], [20, 21]] as const) {
              const what = `${t} ${level} n=${n} k=${k} rows [${r0}, ${r1})`;
              const y = mm(level, x, n, k, wb, QUANT_CODE[t], r0, r1);
              const exact = matmulRef(quantizeActivations(x, E), n, k, wv, rows, r0, r1);
              const scale = maxAbs(exact);
              expect(maxAbsDiff(y, exact) / scale, `${what}: vs 8-bit activations`).toBeLessThan(1e-5);
              const f32x = matmulRef(x, n, k, wv, rows, r0, r1);
              for (let tt = 0; tt < n; tt++)
                for (let c = r0; c < r1; c++) {  // rounding x to 8 bits moves each term by at most |w_i| · amax_block / 254 (blocks of E values), plus |w_i| · amax_block · 2⁻¹¹ from the f16 scale of 32-blocks
                  let bound = 0;
                  for (let b = 0; b < k / E; b++) {
                    let amax = 0, wsum = 0;
                    for (let i = E * b; i < E * b + E; i++) amax = Math.max(amax, Math.abs(x[tt * k + i]!)), wsum += Math.abs(wv[c * k + i]!);
                    bound += wsum * amax * (1 / 254 + (E === 32 ? 2 ** -11 : 0));
                  }
                  expect(Math.abs(y[tt * rows + c]! - f32x[tt * rows + c]!), `${what} [${tt}, ${c}]: vs f32 activations`).toBeLessThanOrEqual(bound * 1.0001 + 1e-6 * scale);
                }
              if (level !== 'portable') {
                const p = mm('portable', x, n, k, wb, QUANT_CODE[t], r0, r1);
                expect(maxAbsDiff(y, p) / scale, `${what}: vs portable`).toBeLessThan(2e-5);
              }
              for (let tt = 0; tt < n; tt++)
                for (let c = 0; c < rows; c++) if (c < r0 || c >= r1) expect(y[tt * rows + c], `${what}: column ${c} written`).toBe(0);
            }
          }
      });
  it('refuses k that is not whole blocks', () => {
    expect(() => binding.kernelMatmul('portable', new Float32Array(128), 1, 128, new Uint8Array(144), QUANT_CODE.q4_k, 0, 1)).toThrow();
  });
});

describe('prefill panels (quant_panel_x + quant_matmul_panel): the same integers as the tile kernels', () => {
  const PANEL = 'panel' as const;
  // AVX-512 with VNNI: vpdpbusd panels for every block type; AVX2 (and AVX-512 without VNNI): byte panels for q4_0 and
  // the k-quants (q8_0's signed codes stay on the tiles); portable: none
  const panelTypes = (level: string): QuantType[] =>
    level === 'avx512' && quant.avx512Vnni ? TYPES : level === 'avx2' || level === 'avx512' ? ['q4_0', 'q4_k', 'q5_k', 'q6_k'] : [];
  it('run exactly on the types each level takes (null elsewhere)', () => {
    for (const level of levels)
      for (const t of TYPES) {
        const E = BLOCK[t].elems;
        const y = binding.kernelMatmul(level, new Float32Array(E), 1, E, new Uint8Array(BLOCK[t].bytes), QUANT_CODE[t], 0, 1, PANEL);
        expect(y !== null, `${level} ${t}`).toBe(panelTypes(level).includes(t));
      }
    expect(panelTypes(levels[0]!).length, `the best level (${levels[0]}) has panels`).toBeGreaterThan(0);
  });
  for (const level of levels)
    for (const t of panelTypes(level))
      it(`${t} ${level}`, () => {
        const rows = 45, E = BLOCK[t].elems;  // 45 rows: whole panels (32 or 8 rows) and a partial one
        for (const k of [E, 4 * E, 1024])
          for (const n of [1, 3, 4, 5, 6, 7, 32, 40]) {  // whole passes (6 or 4 tokens) and tails
            const r = rng(n * 131 + k + QUANT_CODE[t]);
            const x = Float32Array.from({ length: n * k }, () => r() * 2);
            const wb = randomBlocks(t, rows, k, r);
            const wv = dequantize(t, wb, rows * k);
            for (const [r0, r1] of [[0, rows], [32, 45], [7, 40]] as const) {
              const what = `${t} ${level} n=${n} k=${k} rows [${r0}, ${r1})`;
              const y = binding.kernelMatmul(level, x, n, k, wb, QUANT_CODE[t], r0, r1, PANEL)!;
              const exact = matmulRef(quantizeActivations(x, E), n, k, wv, rows, r0, r1);
              expect(maxAbsDiff(y, exact) / maxAbs(exact), `${what}: vs 8-bit activations`).toBeLessThan(1e-5);
              const tiles = binding.kernelMatmul(level, x, n, k, wb, QUANT_CODE[t], r0, r1);
              expect(maxAbsDiff(y, tiles) / maxAbs(exact), `${what}: vs the tile kernel`).toBeLessThan(2e-6);
              for (let tt = 0; tt < n; tt++)
                for (let c = 0; c < rows; c++) if (c < r0 || c >= r1) expect(y[tt * rows + c], `${what}: column ${c} written`).toBe(0);
            }
          }
      });
});

describe('quantizeRows round trip (reference dequantizer)', () => {
  // max |x − x̂| / (max |x| of the row) per type: half a step of each format's grid, with the 6-/8-bit scale rounding
  // (q4_0: ggml's signed d = max / −8 leaves −max at 7/8 of it, a 1/8 step)
  const bar: Record<QuantType, number> = { q8_0: 0.0045, q4_0: 0.13, q4_k: 0.1, q5_k: 0.05, q6_k: 0.03 };
  for (const t of TYPES)
    it(t, () => {
      const k = 1024, rows = 8, r = rng(99 + QUANT_CODE[t]);
      const x = Float32Array.from({ length: rows * k }, () => r() * (r() > 0.45 ? 4 : 1));
      const q = quant.quantizeRows(QUANT_CODE[t], x, k);
      expect(q.length).toBe((rows * k / BLOCK[t].elems) * BLOCK[t].bytes);
      const back = dequantize(t, q, rows * k);
      let worst = 0;
      for (let rr = 0; rr < rows; rr++) {
        const xs = x.subarray(rr * k, (rr + 1) * k);
        worst = Math.max(worst, maxAbsDiff(xs, back.subarray(rr * k, (rr + 1) * k)) / maxAbs(xs));
      }
      console.log(`${t}: worst round-trip error ${worst.toExponential(3)} of the row's max`);
      expect(worst).toBeLessThan(bar[t]);
      expect(worst).toBeGreaterThan(0);
    });
  it('refuses a float dtype and k that is not whole blocks', () => {
    expect(() => quant.quantizeRows(2, new Float32Array(256), 256)).toThrow();
    expect(() => quant.quantizeRows(QUANT_CODE.q4_k, new Float32Array(128), 128)).toThrow();
  });
});
