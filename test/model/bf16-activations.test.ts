/**
 * BF16 activations (EngineOptions.activations = 'bf16'): with BF16 weights every matmul input is rounded
 * to bf16 first. On AVX512_BF16 CPUs the AVX-512 level multiplies bf16 pairs (vdpbf16ps); elsewhere the
 * rounded values go through the f32 kernels. Checked here: the bf16 × bf16 kernel equals a float64
 * reference on the rounded inputs (weights packed at load or per call); whole-model logits of the vdpbf16ps
 * path agree with the portable path (dense and MoE) and packed weights with per-call packing, whose copy
 * replaces the mapped pages in memory; a token's logits do not depend on the batch it decodes in; the mode stays close
 * to f32 activations and is closer than them to llama.cpp's BF16 path (which rounds the same way); the
 * mode shows in activationMode and the fingerprint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine-api.js';
import { EngineArgumentError } from '../../engine/errors.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine, nativeBinding } from '../../engine/native.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { loadPeakRss } from '../support/load-rss.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { lacksLevel } from '../support/cpu-level.js';

const V = 151_936;
const BF16 = 2;
const nb = nativeBinding();
/** Levels with a bf16 × bf16 matmul on this CPU (kernelMatmul returns null elsewhere). */
const dotLevels = nb.kernelLevels.filter((l) => nb.kernelMatmul(l, new Float32Array(32), 1, 32, new Uint8Array(64), BF16, 0, 1, true) !== null);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/** f32 → bf16 bits, round to nearest even (finite inputs). */
function toBf16(f: number): number {
  const u = new Uint32Array(Float32Array.of(f).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
const fromBf16 = (h: number) => new Float32Array(Uint32Array.of(h << 16).buffer)[0]!;

describe('bf16 × bf16 matmul kernel', () => {
  it('exists on AVX-512 with AVX512_BF16 only, never on portable or avx2', () => {
    expect(dotLevels.every((l) => l === 'avx512')).toBe(true);
  });
  for (const level of dotLevels) {
    it(`${level} equals a float64 reference on the rounded inputs (row tiles and panels, row ranges; packed at load or per call)`, () => {
      const rows = 45;
      for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 64])
        for (const k of [32, 96, 320, 1024]) {
          const r = rng(n * 7919 + k);
          const x = Float32Array.from({ length: n * k }, r);
          const bits = Uint16Array.from({ length: rows * k }, () => toBf16(r()));
          const w = new Uint8Array(bits.buffer);
          const xr = Float64Array.from(x, (v) => fromBf16(toBf16(v))), wr = Float64Array.from(bits, fromBf16);
          const full = new Float64Array(n * rows); // every row once; each range compares its columns
          for (let t = 0; t < n; t++)
            for (let c = 0; c < rows; c++) {
              let s = 0;
              for (let i = 0; i < k; i++) s += xr[t * k + i]! * wr[c * k + i]!;
              full[t * rows + c] = s;
            }
          const ranges = { rows: [[0, rows], [3, 40], [5, 6], [17, rows]], packed: [[0, rows], [32, rows], [0, 17], [32, 33]] } as const;
          for (const mode of ['rows', 'packed'] as const)
            for (const [r0, r1] of ranges[mode]) {
              const y = nb.kernelMatmul(level, x, n, k, w, BF16, r0, r1, mode === 'packed' ? 'packed' : true)!;
              const what = `${level} ${mode} n=${n} k=${k} rows [${r0}, ${r1})`;
              const ref = full.map((v, j) => (j % rows >= r0 && j % rows < r1 ? v : 0));
              expect(maxAbsDiff(y, ref) / Math.max(maxAbs(ref), 1e-30), what).toBeLessThan(1e-5);
              for (let t = 0; t < n; t++)
                for (let c = 0; c < rows; c++) if (c < r0 || c >= r1) expect(y[t * rows + c], `${what}: column ${c} written`).toBe(0);
              // from 17 tokens the per-call path packs the same panels and runs the same kernel: equal bits
              if (mode === 'packed' && n >= 17) expect(Array.from(y), what).toEqual(Array.from(nb.kernelMatmul(level, x, n, k, w, BF16, r0, r1, true)!));
            }
        }
    });
  }
  for (const level of dotLevels)
    it(`${level} rounds activations to bf16 exactly as the reference (ties to even, either side of a tie)`, () => {
      // x · identity picks each rounded activation out exactly (one product by 1.0, the rest zeros); finite
      // inputs only, as a NaN or an infinity would spread through the zeros of its row
      const k = 64;
      const u = [0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0xbf808000, 0xc0418000, 0x7f7f7fff, 0xff7e8000, 0x00800000, 0x3f800000, 0x4effffff];
      const bitsIn = Uint32Array.from({ length: 2 * k }, (_, i) => u[i % u.length]!);
      const x = new Float32Array(bitsIn.buffer);
      const eye = new Uint16Array(k * k);
      for (let i = 0; i < k; i++) eye[i * k + i] = 0x3f80;
      const y = nb.kernelMatmul(level, x, 2, k, new Uint8Array(eye.buffer), BF16, 0, k, true)!;
      for (let i = 0; i < 2 * k; i++) expect(y[i], `x = 0x${bitsIn[i]!.toString(16)}`).toBe(fromBf16(toBf16(x[i]!)));
    });
  it('is not offered for other weight dtypes or k not a multiple of 32', () => {
    for (const level of nb.kernelLevels) {
      expect(nb.kernelMatmul(level, new Float32Array(32), 1, 32, new Uint8Array(128), 0, 0, 1, true)).toBeNull();
      expect(nb.kernelMatmul(level, new Float32Array(48), 1, 48, new Uint8Array(96), BF16, 0, 1, true)).toBeNull();
    }
  });
});

/** Mean KL(p ‖ q) over rows of two [rows][V] logit buffers, and the fraction of rows whose argmax agrees. */
function compare(p: Float32Array, q: Float32Array): { kl: number; top1: number } {
  const rows = p.length / V;
  let kl = 0, same = 0;
  for (let r = 0; r < rows; r++) {
    const lp = logSoftmax(row(p, r, V)), lq = logSoftmax(row(q, r, V));
    for (let i = 0; i < V; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
    if (argmax(row(p, r, V)) === argmax(row(q, r, V))) same++;
  }
  return { kl: kl / rows, top1: same / rows };
}

/**
 * Prefill (panels), decode steps (row tiles) and one batched forward of two slots; every output's logits. A bf16 KV
 * rounds attention's q and P too (vdpbf16ps for the prefill's rows where the level has it).
 */
async function workload(e: Engine, tokens: number[], kv: 'f32' | 'bf16' = 'f32'): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const a = e.createSlot(128, kv);
  const [p0] = await e.forward([{ slot: a, tokens: tokens.slice(0, 64), logits: 'all' }]);
  out.push(p0!.data);
  for (const step of [[1], [2], [3, 4, 5, 6, 7]]) {
    const [y] = await e.forward([{ slot: a, tokens: step, logits: 'all' }]);
    out.push(y!.data);
  }
  a.dispose();
  const b = e.createSlot(128, kv), c = e.createSlot(128, kv);
  const ys = await e.forward([{ slot: b, tokens: tokens.slice(0, 5), logits: 'all' }, { slot: c, tokens: tokens.slice(9, 12), logits: 'all' }]);
  out.push(...ys.map((y) => y.data));
  b.dispose();
  c.dispose();
  return out;
}

describe.each(['tiny', 'tiny-moe'] as const)('%s bf16 in bf16-activation mode', (preset) => {
  let spec: ModelSpec;
  let portable: Engine;
  const tokens = randomTokens(70, 5);
  beforeAll(async () => {
    spec = await loadModelSpec((await ensureModel(preset, 'bf16')).dir);
    portable = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: 'portable', activations: 'bf16' });
  });
  afterAll(() => portable?.dispose());

  it('reports the mode and a fingerprint of its own; other weights and unknown modes', async () => {
    const plain = await loadEngine(spec, { threads: 1, maxBatchTokens: 8 });
    expect(plain.activationMode).toBe('f32');
    expect(portable.activationMode).toBe('bf16');
    expect(portable.fingerprint).toBe(`${plain.fingerprint}+bf16act`);
    plain.dispose();
    const int8 = await loadEngine(spec, { threads: 1, maxBatchTokens: 8, weights: 'int8', activations: 'bf16' });
    expect(int8.activationMode).toBe('f32');  // int8 weights take f32 inputs
    int8.dispose();
    await expect(loadEngine(spec, { threads: 1, maxBatchTokens: 8, activations: 'f16' as never })).rejects.toBeInstanceOf(EngineArgumentError);
  });

  it.skipIf(lacksLevel(dotLevels, 'avx512', 'bf16 dot products (AVX512_BF16)')).each(['f32', 'bf16'] as const)('vdpbf16ps (avx512) agrees with portable: prefill, decode, a batched forward (%s KV)', async (kv) => {
    const fast = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: 'avx512', activations: 'bf16' });
    const got = await workload(fast, tokens, kv), want = await workload(portable, tokens, kv);
    fast.dispose();
    let worst = 0, kl = 0, top1 = 0, rows = 0;
    for (let i = 0; i < got.length; i++) {
      worst = Math.max(worst, maxAbsDiff(got[i]!, want[i]!) / maxAbs(want[i]!));
      const n = want[i]!.length / V, c = compare(want[i]!, got[i]!);
      kl += c.kl * n, top1 += c.top1 * n, rows += n;
    }
    kl /= rows, top1 /= rows;
    console.log(`${preset}, ${kv} KV: bf16 activations, avx512 vs portable: max relative logit difference ${worst.toExponential(2)}, KL ${kl.toExponential(2)}, top-1 ${top1.toFixed(3)}`);
    // the same rounded inputs summed in another order; a rare bf16 rounding flip downstream moves logits slightly
    expect(worst).toBeLessThan(2e-2);
    expect(kl).toBeLessThan(1e-3);
    expect(top1).toBeGreaterThanOrEqual(0.97);
  });

  it.skipIf(lacksLevel(dotLevels, 'avx512', 'bf16 dot products (AVX512_BF16)'))('weights packed at load (the default) compute what per-call panels do', async () => {
    const packed = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, activations: 'bf16' });
    process.env.RESIDENT_BF16_PACK = '0';
    const perCall = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, activations: 'bf16' }).finally(() => delete process.env.RESIDENT_BF16_PACK);
    expect([packed.packedWeights, perCall.packedWeights, portable.packedWeights]).toEqual([true, false, false]);
    const got = await workload(packed, tokens), want = await workload(perCall, tokens);
    packed.dispose();
    perCall.dispose();
    // dense prefill: every matmul has 64 token rows, so both run the same panels through the same kernel; the
    // MoE's experts see fewer tokens each, where per-call runs row tiles (another order of the same sums)
    if (preset === 'tiny') expect(Array.from(got[0]!)).toEqual(Array.from(want[0]!));
    for (let i = 0; i < got.length; i++) expect(maxAbsDiff(got[i]!, want[i]!) / maxAbs(want[i]!), `output ${i}`).toBeLessThan(2e-2);
  });

  it.skipIf(lacksLevel(dotLevels, 'avx512', 'bf16 dot products (AVX512_BF16)'))('packing at load replaces the mapped pages: peak RSS grows by at most 1.25× the weight bytes', () => {
    const weightBytes = spec.tensors.reduce((a, t) => a + t.nbytes, 0);
    const { before, peak, packed } = loadPeakRss(spec.dir, { threads: 2, maxBatchTokens: 16, activations: 'bf16' });
    expect(packed).toBe(true);
    expect(peak - before).toBeGreaterThan(0.5 * weightBytes);
    expect(peak - before).toBeLessThanOrEqual(1.25 * weightBytes);
  });

  it("a token's logits do not depend on the batch it decodes in (9 sessions together = each alone)", async () => {
    const e = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, activations: 'bf16' });
    const prompts = Array.from({ length: 9 }, (_, s) => randomTokens(4 + s, 100 + s));
    const next = prompts.map((p) => p[0]!);
    const fresh = async () => {
      const slots = prompts.map(() => e.createSlot(32, 'f32'));
      for (let s = 0; s < slots.length; s++) await e.forward([{ slot: slots[s]!, tokens: prompts[s]! }]);
      return slots;
    };
    const together = await fresh();
    const batched = await e.forward(together.map((slot, s) => ({ slot, tokens: [next[s]!], logits: 'last' as const })));
    const alone = await fresh();
    for (let s = 0; s < alone.length; s++) {
      const [y] = await e.forward([{ slot: alone[s]!, tokens: [next[s]!], logits: 'last' }]);
      expect(Array.from(batched[s]!.data), `session ${s}`).toEqual(Array.from(y!.data));
    }
    for (const slot of [...together, ...alone]) slot.dispose();
    e.dispose();
  });

  // Dense only: the tiny random MoE's router logits are nearly tied, so any perturbation of the hidden state
  // (measured: bf16 activations in attention alone, experts and router kept f32) flips experts (KL ≈ 1.5).
  it.runIf(preset === 'tiny')('stays close to f32 activations: small KL divergence, top-1 mostly the same', async () => {
    const f32 = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
    const bf = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, activations: 'bf16' });
    const p = await workload(f32, tokens), q = await workload(bf, tokens);
    f32.dispose();
    bf.dispose();
    let kl = 0, top1 = 0, rows = 0;
    for (let i = 0; i < p.length; i++) {
      const n = p[i]!.length / V, c = compare(p[i]!, q[i]!);
      kl += c.kl * n, top1 += c.top1 * n, rows += n;
    }
    kl /= rows, top1 /= rows;
    console.log(`${preset}: bf16 vs f32 activations: KL ${kl.toExponential(3)} nats/token, top-1 agreement ${top1.toFixed(3)} over ${rows} positions`);
    expect(kl).toBeGreaterThan(0);  // the inputs did change
    expect(kl).toBeLessThan(0.05);
    expect(top1).toBeGreaterThanOrEqual(0.85);
  });
});

describe("bf16 activations vs llama.cpp's BF16 path (tiny bf16, which rounds activations the same way)", () => {
  it('agrees on top-1 and is closer to llama.cpp than f32 activations are', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const spec = await loadModelSpec(m.dir);
    const tokens = randomTokens(100, 77);
    const oracle = await LlamaOracle.open(m.gguf!, { contextSize: 256 });
    const ll = await oracle.evaluate(tokens);
    await oracle.dispose();
    const diff = async (activations: 'f32' | 'bf16') => {
      const e = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, activations });
      const slot = e.createSlot(256, 'f32');
      const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
      e.dispose();
      let top1 = 0, worst = 0;
      for (const d of ll) {
        const lp = logSoftmax(row(out!.data, d.pos, V));
        if (argmax(lp) === d.top[0]!.id) top1++;
        for (const t of d.top) worst = Math.max(worst, Math.abs(lp[t.id]! - t.logprob));
      }
      return { top1: top1 / ll.length, worst };
    };
    const bf = await diff('bf16'), f32 = await diff('f32');
    console.log(`vs llama.cpp BF16: bf16 activations top-1 ${bf.top1.toFixed(2)}, max |Δ logprob| ${bf.worst.toExponential(2)}; f32 activations top-1 ${f32.top1.toFixed(2)}, ${f32.worst.toExponential(2)}`);
    expect(bf.top1).toBeGreaterThanOrEqual(0.97);
    expect(bf.worst).toBeLessThan(f32.worst);
  });
});
