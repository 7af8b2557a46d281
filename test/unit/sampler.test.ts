import { describe, expect, it } from 'vitest';
import { EngineArgumentError } from '../../engine/errors.js';
import { createSamplerState, logSoftmaxTopK, NoAllowedTokenError, Rng, sample, Sampler, type SamplingParams } from '../../engine/decode/sampler.js';

const V = 151936;

/** Logits with log-probabilities ln(p) at ids 0..p.length-1 and −30 elsewhere (vocabulary `n`). */
function logitsFor(p: number[], n = 16): Float32Array {
  const l = new Float32Array(n).fill(-30);
  p.forEach((x, i) => (l[i] = Math.log(x)));
  return l;
}

function counts(params: SamplingParams, logits: Float32Array, n: number, mask?: Uint32Array): Map<number, number> {
  const s = new Sampler(params);
  const c = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = s.sample(logits, { mask });
    c.set(t, (c.get(t) ?? 0) + 1);
    s.state.recent.length = 0; // no penalties in play: keep the window empty
  }
  return c;
}

function softmax(l: Float32Array, t = 1): number[] {
  const max = Math.max(...l);
  const e = Array.from(l, (x) => Math.exp((x - max) / t));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

function maskOf(allowed: number[], n: number): Uint32Array {
  const m = new Uint32Array(Math.ceil(n / 32));
  for (const i of allowed) m[i >> 5]! |= 1 << (i & 31);
  return m;
}

describe('sampler', () => {
  it('greedy picks the argmax, lowest id on ties', () => {
    const l = new Float32Array([1, 5, 3, 5, -2]);
    expect(sample(l, { temperature: 0 }, createSamplerState())).toBe(1);
    expect(sample(new Float32Array([0, 9, 2]), { temperature: 0, topK: 2, topP: 0.1 }, createSamplerState())).toBe(1);
  });

  it('temperature sampling matches the softmax (chi-square, fixed seed)', () => {
    const l = new Float32Array([2.0, 1.5, 1.0, 0.2, -0.5, -1.0, 0.7, 1.2]);
    for (const t of [1, 0.7]) {
      const p = softmax(l, t);
      const n = 20000;
      const c = counts({ temperature: t, seed: 7 }, l, n);
      let chi2 = 0;
      p.forEach((pi, i) => (chi2 += ((c.get(i) ?? 0) - n * pi) ** 2 / (n * pi)));
      expect(chi2).toBeLessThan(24.3); // df 7, p = 0.001
    }
  });

  it('lower temperature concentrates the mass', () => {
    const l = new Float32Array([2, 1.5, 1, 0.5]);
    const hot = counts({ temperature: 1.5, seed: 1 }, l, 4000).get(0)!;
    const cold = counts({ temperature: 0.3, seed: 1 }, l, 4000).get(0)!;
    expect(cold).toBeGreaterThan(hot + 1000);
  });

  it('top-k keeps only the k most likely tokens, renormalised', () => {
    const l = logitsFor([0.3, 0.25, 0.2, 0.15, 0.1]);
    const c = counts({ topK: 2, seed: 3 }, l, 6000);
    expect([...c.keys()].sort()).toEqual([0, 1]);
    expect(c.get(0)! / 6000).toBeCloseTo(0.3 / 0.55, 1);
    expect([...counts({ topK: 1, seed: 3 }, l, 200).keys()]).toEqual([0]);
  });

  it('top-p keeps the smallest nucleus reaching p', () => {
    const l = logitsFor([0.5, 0.3, 0.15, 0.05]);
    expect([...counts({ topP: 0.79, seed: 4 }, l, 3000).keys()].sort()).toEqual([0, 1]);
    expect([...counts({ topP: 0.81, seed: 4 }, l, 3000).keys()].sort()).toEqual([0, 1, 2]);
    // top-p after top-k works on the renormalised top-k distribution: 0.5/0.8 = 0.625 ≥ 0.6
    expect([...counts({ topK: 2, topP: 0.6, seed: 4 }, l, 2000).keys()]).toEqual([0]);
  });

  it('top-p handles a large, flat nucleus (ties broken by lower id)', () => {
    const l = new Float32Array(8192).fill(-50);
    l.fill(0, 0, 1000); // 1000 equally likely tokens: nucleus 0.5 = ids 0..499
    const c = counts({ topP: 0.5, seed: 5 }, l, 2000);
    expect(Math.max(...c.keys())).toBeLessThan(500);
    expect(c.size).toBeGreaterThan(400);
  });

  it('min-p drops tokens below minP × the top probability', () => {
    const l = logitsFor([0.5, 0.3, 0.12, 0.08]);
    expect([...counts({ minP: 0.2, seed: 6 }, l, 3000).keys()].sort()).toEqual([0, 1, 2]);
    expect([...counts({ minP: 0.5, seed: 6 }, l, 3000).keys()].sort()).toEqual([0, 1]);
    expect([...counts({ minP: 0.5, topK: 3, seed: 6 }, l, 3000).keys()].sort()).toEqual([0, 1]);
  });

  it('repetition penalty divides positive and multiplies negative logits of recent tokens', () => {
    const st = createSamplerState();
    st.recent.push(0);
    expect(sample(new Float32Array([3, 2]), { temperature: 0, repetitionPenalty: 2 }, st)).toBe(1); // 3/2 < 2
    const st2 = createSamplerState();
    st2.recent.push(1);
    expect(sample(new Float32Array([-1.5, -1]), { temperature: 0, repetitionPenalty: 2 }, st2)).toBe(0); // -1·2 < -1.5
  });

  it('presence and frequency penalties subtract per token / per occurrence, within penaltyLastN', () => {
    const l = new Float32Array([1, 0.5, 0]);
    const run = (recent: number[], p: SamplingParams) => {
      const st = createSamplerState();
      st.recent.push(...recent);
      return sample(l, { temperature: 0, ...p }, st);
    };
    expect(run([0, 0, 0], { presencePenalty: 0.4 })).toBe(0); // 0.6 > 0.5
    expect(run([0, 0, 0], { presencePenalty: 0.6 })).toBe(1);
    expect(run([0, 0, 0], { frequencyPenalty: 0.2 })).toBe(1); // 1 − 0.6 = 0.4 < 0.5
    expect(run([0, 1, 1, 1], { frequencyPenalty: 0.2, penaltyLastN: 3 })).toBe(0); // the 0 fell out of the window
    expect(run([0, 1, 1, 1], { frequencyPenalty: 0.2, penaltyLastN: 0 })).toBe(0);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const l = new Float32Array(1000).map((_, i) => Math.sin(i) * 2);
    const draw = (seed: number) => {
      const s = new Sampler({ seed, temperature: 1, topK: 50, repetitionPenalty: 1.1 });
      return Array.from({ length: 50 }, () => s.sample(l));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(new Rng(9).next()).toBe(new Rng(9).next());
  });

  it('respects the allowed-token mask over many samples, before every other step', () => {
    const rng = new Rng(11);
    const l = new Float32Array(V).map(() => rng.next() * 8);
    const allowed = Array.from({ length: 300 }, () => Math.floor(rng.next() * V));
    const mask = maskOf(allowed, V);
    const ok = new Set(allowed);
    for (const params of [{ temperature: 1 }, { temperature: 0 }, { topK: 5 }, { topP: 0.9 }, { minP: 0.05 }] as SamplingParams[]) {
      for (const t of counts({ ...params, seed: 2 }, l, 100, mask).keys()) expect(ok.has(t)).toBe(true);
    }
    // greedy under a mask = argmax over the allowed set
    const best = allowed.reduce((a, b) => (l[b]! > l[a]! || (l[b] === l[a] && b < a) ? b : a));
    expect(sample(l, { temperature: 0 }, createSamplerState(), { mask })).toBe(best);
  });

  it('a sparse mask samples over its allowed ids only, drawing exactly what the dense pass draws', () => {
    const rng = new Rng(21);
    const l = new Float32Array(V).map(() => rng.next() * 10);
    const allowed = [...new Set(Array.from({ length: 700 }, () => Math.floor(rng.next() * V)))];
    const mask = maskOf(allowed, V);
    const masked = l.map((x, i) => (allowed.includes(i) ? x : -Infinity));
    for (const params of [{ temperature: 1 }, { temperature: 0.7, topK: 20 }, { topP: 0.8 }, { minP: 0.1 }, { temperature: 1.3, topP: 0.9, minP: 0.02 }, { presencePenalty: 1, frequencyPenalty: 0.5 }, { repetitionPenalty: 1.3, logitBias: new Map([[allowed[0]!, 3], [allowed[1]!, -2]]) }] as SamplingParams[]) {
      const a = new Sampler({ ...params, seed: 9 });
      const b = new Sampler({ ...params, seed: 9 });
      const sparse = Array.from({ length: 50 }, () => a.sample(l, { mask }));
      const dense = Array.from({ length: 50 }, () => b.sample(masked));
      expect(sparse).toEqual(dense);
      for (const t of sparse) expect(allowed).toContain(t);
    }
  });

  it('logit bias shifts logits after the mask and never unmasks a token', () => {
    const l = logitsFor([0.5, 0.3, 0.2]);
    expect(sample(l, { temperature: 0 }, createSamplerState())).toBe(0);
    expect(sample(l, { temperature: 0, logitBias: new Map([[2, 5]]) }, createSamplerState())).toBe(2);
    expect(sample(l, { temperature: 0, logitBias: new Map([[0, -100]]) }, createSamplerState())).toBe(1);
    // a bias on a masked-out token leaves it masked
    const mask = maskOf([0, 1], 16);
    for (const t of counts({ logitBias: new Map([[2, 100], [9, 100]]), seed: 3 }, l, 200, mask).keys()) expect([0, 1]).toContain(t);
    // sampled frequencies follow the biased softmax: +ln 2 doubles token 2's weight (0.4 vs 0.5 and 0.3)
    const c = counts({ logitBias: new Map([[2, Math.log(2)]]), seed: 5 }, l, 24000);
    expect(Math.abs(c.get(2)! / 24000 - 0.4 / 1.2)).toBeLessThan(0.015);
    expect(() => new Sampler({ logitBias: new Map([[1, 101]]) })).toThrow(EngineArgumentError);
    expect(() => new Sampler({ logitBias: new Map([[-1, 1]]) })).toThrow(EngineArgumentError);
  });

  it('names the errors: empty mask, short mask, bad parameters', () => {
    const l = new Float32Array(64);
    expect(() => sample(l, {}, createSamplerState(), { mask: new Uint32Array(2) })).toThrow(NoAllowedTokenError);
    expect(() => sample(l, {}, createSamplerState(), { mask: new Uint32Array(1) })).toThrow(EngineArgumentError);
    expect(() => new Sampler({ temperature: -1 })).toThrow(EngineArgumentError);
    expect(() => new Sampler({ topP: 0 })).toThrow(EngineArgumentError);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(EngineArgumentError);
    expect(() => sample(new Float32Array(4).fill(-Infinity), {}, createSamplerState())).toThrow(NoAllowedTokenError);
  });

  it('logSoftmaxTopK matches a brute-force log-softmax', () => {
    const rng = new Rng(5);
    const l = new Float32Array(V).map(() => rng.next() * 20 - 10);
    const top = logSoftmaxTopK(l, 10);
    let m = -Infinity;
    for (const x of l) m = Math.max(m, x);
    let z = 0;
    for (const x of l) z += Math.exp(x - m);
    const lse = m + Math.log(z);
    const brute = [...l].map((x, id) => ({ id, logprob: x - lse })).sort((a, b) => b.logprob - a.logprob || a.id - b.id).slice(0, 10);
    expect(top.map((e) => e.id)).toEqual(brute.map((e) => e.id));
    top.forEach((e, i) => expect(e.logprob).toBeCloseTo(brute[i]!.logprob, 9));
  });

  it('is fast on a 151,936-token vocabulary (no full sort)', () => {
    const rng = new Rng(8);
    const l = new Float32Array(V).map(() => rng.next() * 12);
    const s = new Sampler({ temperature: 0.6, topK: 20, topP: 0.95, minP: 0.01, repetitionPenalty: 1.05, seed: 1 });
    const s2 = new Sampler({ temperature: 0.8, topP: 0.9, seed: 1 });
    s.sample(l);
    s2.sample(l);
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) {
      s.sample(l);
      s2.sample(l);
    }
    const perSample = (performance.now() - t0) / 100;
    expect(perSample).toBeLessThan(50); // ms; typically 1–5 ms on an idle core (a full sort of the vocabulary costs far more)
  });
});
