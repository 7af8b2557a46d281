/**
 * Every kernel level this CPU runs (avx512, avx2; portable is the reference) agrees with the portable path:
 * the matmul kernel alone on odd shapes (n = 1..9, 17, 64; k not a multiple of 16/32; row ranges not a
 * multiple of any block), and whole-model logits on the tiny model with f32, bf16 and f16 weights
 * (prefill through both matmul paths, decode steps, a batched forward over several slots).
 * A level the CPU lacks is skipped, not failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, KernelLevel } from '../../engine/engine-api.js';
import { EngineArgumentError } from '../../engine/errors.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec, WeightDType } from '../../engine/model/model-spec.js';
import { loadEngine, nativeBinding } from '../../engine/native.js';
import { ensureModel } from '../support/models.js';
import { argmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { lacksLevel } from '../support/cpu-level.js';

const V = 151_936;
const levels = nativeBinding().kernelLevels;
const FAST: Exclude<KernelLevel, 'auto' | 'portable'>[] = ['avx512', 'avx2'];
const DTYPE_CODE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2 };

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/** rows × k weights in dtype dt, as raw bytes; values in [-0.5, 0.5), exactly representable in dt. */
function weights(rows: number, k: number, dt: WeightDType, r: () => number): Uint8Array {
  if (dt === 'f32') return new Uint8Array(Float32Array.from({ length: rows * k }, r).buffer);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer), out = new Uint16Array(rows * k);
  for (let i = 0; i < out.length; i++) {
    f[0] = r();
    // bf16: the top half of the f32; f16: sign | exponent 10..14 (magnitudes 2^-5..1) | 10 mantissa bits
    out[i] = dt === 'bf16' ? u[0]! >>> 16 : (f[0]! < 0 ? 0x8000 : 0) | ((10 + (i % 5)) << 10) | Math.floor((r() + 0.5) * 1024);
  }
  return new Uint8Array(out.buffer);
}

describe('matmul kernel: every level equals portable on odd shapes', () => {
  for (const level of FAST) {
    it.skipIf(lacksLevel(levels, level, 'kernels'))(`${level} matmul`, () => {
      const mm = nativeBinding().kernelMatmul;
      const rows = 45;
      for (const dt of ['f32', 'bf16', 'f16'] as const)
        for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 64])
          for (const k of [1, 7, 33, 100, 300, 1000]) {
            const r = rng(n * 7919 + k * 31 + DTYPE_CODE[dt]);
            const x = Float32Array.from({ length: n * k }, r);
            const w = weights(rows, k, dt, r);
            for (const [r0, r1] of [[0, rows], [3, 40], [5, 6], [17, rows]] as const) {
              const ref = mm('portable', x, n, k, w, DTYPE_CODE[dt], r0, r1);
              const y = mm(level, x, n, k, w, DTYPE_CODE[dt], r0, r1);
              const what = `${dt} n=${n} k=${k} rows [${r0}, ${r1})`;
              expect(maxAbsDiff(y, ref) / Math.max(maxAbs(ref), 1e-30), what).toBeLessThan(1e-5);
              for (let t = 0; t < n; t++)
                for (let c = 0; c < rows; c++) if (c < r0 || c >= r1) expect(y[t * rows + c], `${what}: column ${c} written`).toBe(0);
            }
          }
    });
  }
});

describe.each(['f32', 'bf16', 'f16'] as const)('tiny model, %s weights: every kernel level agrees with portable', (dt) => {
  let spec: ModelSpec;
  let portable: Engine;
  beforeAll(async () => {
    spec = await loadModelSpec((await ensureModel('tiny', dt)).dir);
    portable = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: 'portable' });
    expect(portable.kernels).toBe('portable');
  });
  afterAll(() => portable?.dispose());

  const close = (a: Float32Array, b: Float32Array, what: string) => {
    expect(maxAbsDiff(a, b) / maxAbs(b), what).toBeLessThan(1e-4);
    for (let p = 0; p < a.length / V; p++) expect(argmax(row(a, p, V)), `${what}, row ${p}`).toBe(argmax(row(b, p, V)));
  };

  for (const level of FAST) {
    it.skipIf(lacksLevel(levels, level, 'kernels'))(`${level}: prefill, decode and a batched forward`, async () => {
      const fast = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: level });
      expect(fast.kernels).toBe(level);
      const run = async (e: Engine) => {
        const out: Float32Array[] = [];
        const tokens = randomTokens(70, 11);
        // 70 tokens = 64 + 6: the packed-panel path and the row-tile path
        const a = e.createSlot(256, 'f32');
        const [p0] = await e.forward([{ slot: a, tokens: tokens.slice(0, 64), logits: 'all' }]);
        const [p1] = await e.forward([{ slot: a, tokens: tokens.slice(64), logits: 'all' }]);
        out.push(p0!.data, p1!.data);
        for (const step of [[5, 6], [7], [8], [9, 10, 11, 12, 13, 14, 15, 16, 17]]) {
          const [y] = await e.forward([{ slot: a, tokens: step, logits: 'all' }]);
          out.push(y!.data);
        }
        // batched: three slots of different lengths in one forward (1 + 1 + 3 tokens), then a batched decode
        const b = e.createSlot(256, 'f32'), c = e.createSlot(256, 'f32');
        await e.forward([{ slot: b, tokens: tokens.slice(0, 9), logits: 'none' }, { slot: c, tokens: tokens.slice(20, 33), logits: 'none' }]);
        const ys = await e.forward([{ slot: a, tokens: [20] }, { slot: b, tokens: [21] }, { slot: c, tokens: [22, 23, 24], logits: 'all' }]);
        out.push(...ys.map((y) => y.data));
        const zs = await e.forward([{ slot: a, tokens: [30] }, { slot: b, tokens: [31] }, { slot: c, tokens: [32] }]);
        out.push(...zs.map((y) => y.data));
        for (const s of [a, b, c]) s.dispose();
        return out;
      };
      const got = await run(fast), want = await run(portable);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < got.length; i++) close(got[i]!, want[i]!, `${level} vs portable, output ${i}`);
      fast.dispose();
    });
  }
});

describe('kernel level selection', () => {
  it('auto picks the best level; a named level forces it or the best below; unknown names are refused', async () => {
    expect(levels[levels.length - 1]).toBe('portable');
    const spec = await loadModelSpec((await ensureModel('tiny', 'f32')).dir);
    const auto = await loadEngine(spec, { threads: 1, maxBatchTokens: 8 });
    expect(auto.kernels).toBe(levels[0]);
    auto.dispose();
    const capped = await loadEngine(spec, { threads: 1, maxBatchTokens: 8, kernels: 'avx2' });
    expect(capped.kernels).toBe(levels.includes('avx2') ? 'avx2' : 'portable');
    capped.dispose();
    const saved = process.env.RESIDENT_KERNELS;
    process.env.RESIDENT_KERNELS = 'portable';
    try {
      const env = await loadEngine(spec, { threads: 1, maxBatchTokens: 8 });
      expect(env.kernels).toBe('portable');
      env.dispose();
    } finally {
      if (saved === undefined) delete process.env.RESIDENT_KERNELS;
      else process.env.RESIDENT_KERNELS = saved;
    }
    await expect(loadEngine(spec, { threads: 1, maxBatchTokens: 8, kernels: 'sse9' as KernelLevel })).rejects.toBeInstanceOf(EngineArgumentError);
  });
});
