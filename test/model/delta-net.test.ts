/**
 * The native Gated DeltaNet block (engine/native/delta-net.h: Qwen3.5 / 3.6 linear attention from the qkv / z / a / b
 * projections to out_proj's input) against a float64 reference written from Hugging Face's recurrent rule
 * (test/support/delta-net-reference.ts): the recurrent and the chunked forms over 1, 7, 64, 65 and 200 tokens from a
 * carried state, with grouped value heads (2 k-heads → 4 v-heads, HF's repeat_interleave order) and at
 * Qwen3.5-0.8B's shape; the chunked form against the recurrent one; prefill(A) + prefill(B) = prefill(A + B) through
 * the carried conv and delta states (also with B as decode steps); a batch of sequences against each alone; gates
 * that saturate; every kernel level against portable; no heap allocation in the forward. Prints a micro-benchmark
 * line for Qwen3.5-0.8B's linear-layer shape.
 */
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../../engine/native.js';
import type { DeltaNetInputs, DeltaNetShape, DeltaNetWeights } from '../support/delta-net-reference.js';
import {
  blockErr, initialStates, QWEN35_08B, randomInputs, randomWeights, relErr, runNative, runReference, sliceInputs, type BlockResult,
  type Mode,
} from '../support/delta-net-cases.js';

const TOL = 1e-5; // relative to the reference's largest magnitude (f32 against float64)
const GQA: DeltaNetShape = { nKHeads: 2, nVHeads: 4, dK: 32, dV: 48, convKernel: 4, normEps: 1e-6 };
const LENGTHS = [1, 7, 64, 65, 200];
const FORMS: Mode[] = ['recurrent', 'chunked'];
const levels = nativeBinding().kernelLevels;

/** Runs `inp` as consecutive calls of `parts` tokens on one sequence, carrying the states. */
function inParts(shape: DeltaNetShape, w: DeltaNetWeights, inp: DeltaNetInputs, parts: number[], modes: Mode[],
  state: { conv: Float32Array; s: Float32Array }): BlockResult {
  const vd = shape.nVHeads * shape.dV, total = parts.reduce((a, b) => a + b, 0);
  const out = new Float32Array(total * vd);
  let st = state, t0 = 0;
  parts.forEach((n, i) => {
    const r = runNative(shape, w, sliceInputs(shape, inp, t0, n), [n], st, { mode: modes[i % modes.length] });
    expect(r.allocations).toBe(0);
    out.set(r.out, t0 * vd);
    st = { conv: r.conv as Float32Array, s: r.s as Float32Array };
    t0 += n;
  });
  return { out, conv: st.conv, s: st.s };
}

describe('Gated DeltaNet block (native) against the float64 reference', () => {
  const w = randomWeights(GQA, 1);
  for (const n of LENGTHS) {
    it(`${n} tokens from a carried state: both forms equal the reference and each other (GQA 2 → 4 heads)`, () => {
      const inp = randomInputs(GQA, n, 100 + n), st = initialStates(GQA, 1, 7);
      const ref = runReference(GQA, w, inp, [n], st);
      const rec = runNative(GQA, w, inp, [n], st, { mode: 'recurrent' });
      const chk = runNative(GQA, w, inp, [n], st, { mode: 'chunked' });
      expect(blockErr(rec, ref)).toBeLessThan(TOL);
      expect(blockErr(chk, ref)).toBeLessThan(TOL);
      expect(blockErr(chk, rec)).toBeLessThan(TOL);
      expect(rec.allocations + chk.allocations).toBe(0);
    });
  }

  it('Qwen3.5-0.8B shape (16 + 16 heads of 128): 65 tokens, both forms equal the reference', () => {
    const w8 = randomWeights(QWEN35_08B, 2), inp = randomInputs(QWEN35_08B, 65, 3), st = initialStates(QWEN35_08B, 1, 4);
    const ref = runReference(QWEN35_08B, w8, inp, [65], st);
    for (const mode of FORMS) expect(blockErr(runNative(QWEN35_08B, w8, inp, [65], st, { mode }), ref)).toBeLessThan(TOL);
  });

  it('value head h reads key head h / (nV / nK) (HF repeat_interleave), not the tiled order of llama.cpp\'s GGUF', () => {
    const inp = randomInputs(GQA, 7, 11), st = initialStates(GQA, 1, 12);
    const got = runNative(GQA, w, inp, [7], st).out;
    expect(relErr(got, runReference(GQA, w, inp, [7], st, 'interleave').out)).toBeLessThan(TOL);
    expect(relErr(got, runReference(GQA, w, inp, [7], st, 'tile').out)).toBeGreaterThan(0.05);
  });

  it('saturated gates (decay that underflows, β at 0 or 1) and gates without decay stay finite and equal the reference', () => {
    const hot = randomInputs(GQA, 130, 21, 40), st = initialStates(GQA, 1, 22);
    const still: DeltaNetWeights = { ...w, aLog: new Float32Array(GQA.nVHeads).fill(-30) };
    for (const [weights, inp] of [[w, hot], [still, randomInputs(GQA, 200, 23)]] as const) {
      const ref = runReference(GQA, weights, inp, [inp.a.length / GQA.nVHeads], st);
      for (const mode of FORMS) {
        const r = runNative(GQA, weights, inp, [inp.a.length / GQA.nVHeads], st, { mode });
        expect(r.out.every(Number.isFinite) && r.s.every(Number.isFinite)).toBe(true);
        expect(blockErr(r, ref)).toBeLessThan(TOL);
      }
    }
  });
});

describe('Gated DeltaNet block: carried states and batches', () => {
  const w = randomWeights(GQA, 31), inp = randomInputs(GQA, 200, 32), st = initialStates(GQA, 1, 33);

  it('prefill(A) + prefill(B) equals prefill(A + B) through the conv and delta states, in either form', () => {
    const whole = runReference(GQA, w, inp, [200], st);
    for (const parts of [[64, 136], [30, 170], [1, 2, 197], [65, 65, 70]])
      for (const modes of [['chunked'], ['recurrent'], ['chunked', 'recurrent']] as Mode[][])
        expect(blockErr(inParts(GQA, w, inp, parts, modes, st), whole), `${parts} ${modes}`).toBeLessThan(TOL);
  });

  it('a chunked prefill then decode steps (one token per call) equal the whole sequence at once', () => {
    const whole = runNative(GQA, w, sliceInputs(GQA, inp, 0, 80), [80], st, { mode: 'chunked' });
    const split = inParts(GQA, w, sliceInputs(GQA, inp, 0, 80), [70, ...Array<number>(10).fill(1)], ['chunked', 'recurrent'], st);
    expect(blockErr(split, whole)).toBeLessThan(TOL);
  });

  it('several sequences in one call give each sequence exactly what it gets alone, on 1 or 3 threads', () => {
    const lens = [5, 0, 70, 1, 64], states = initialStates(GQA, lens.length, 34);
    const cs = 3 * (2 * GQA.nKHeads * GQA.dK + GQA.nVHeads * GQA.dV), ss = GQA.nVHeads * GQA.dK * GQA.dV, vd = GQA.nVHeads * GQA.dV;
    for (const mode of FORMS)
      for (const threads of [1, 3]) {
        const batch = runNative(GQA, w, sliceInputs(GQA, inp, 0, 140), lens, states, { mode, threads });
        let t0 = 0;
        lens.forEach((n, i) => {
          const one = { conv: states.conv.slice(i * cs, (i + 1) * cs), s: states.s.slice(i * ss, (i + 1) * ss) };
          const alone = runNative(GQA, w, sliceInputs(GQA, inp, t0, n), [n], one, { mode, threads: 1 });
          expect(batch.out.slice(t0 * vd, (t0 + n) * vd)).toEqual(alone.out);
          expect(batch.conv.slice(i * cs, (i + 1) * cs)).toEqual(alone.conv);
          expect(batch.s.slice(i * ss, (i + 1) * ss)).toEqual(alone.s);
          t0 += n;
        });
      }
  });

  it('rejects shapes it does not run, naming the constraint', () => {
    const call = (s: DeltaNetShape) => runNative(s, randomWeights(s, 1), randomInputs(s, 1, 1), [1], initialStates(s, 1));
    expect(() => call({ ...GQA, dK: 40 })).toThrow(/multiples of 16/);
    expect(() => call({ ...GQA, nVHeads: 3 })).toThrow(/multiple of key heads/);
    expect(() => call({ ...GQA, convKernel: 3 })).toThrow(/conv kernel size 4/);
  });
});

describe('Gated DeltaNet block: kernel levels', () => {
  const fast = levels.filter((l) => l !== 'portable');
  if (fast.length === 0) console.log('delta-net: only the portable level runs on this CPU; nothing to compare');
  for (const level of fast) {
    it(`${level} agrees with portable in both forms (GQA and Qwen3.5-0.8B shapes)`, () => {
      for (const [shape, n] of [[GQA, 1], [GQA, 7], [GQA, 65], [GQA, 200], [QWEN35_08B, 1], [QWEN35_08B, 70]] as const) {
        const w = randomWeights(shape, 41), inp = randomInputs(shape, n, 42 + n), st = initialStates(shape, 1, 43);
        for (const mode of FORMS) {
          const a = runNative(shape, w, inp, [n], st, { level, mode }), p = runNative(shape, w, inp, [n], st, { level: 'portable', mode });
          expect(blockErr(a, p), `${shape.dK} ${n} ${mode}`).toBeLessThan(TOL);
          expect(a.allocations).toBe(0);
        }
      }
    });
  }
});

describe('Gated DeltaNet block: micro-benchmark', () => {
  it('prints prefill and decode tokens/s of one Qwen3.5-0.8B linear layer on one thread', () => {
    const shape = QWEN35_08B, w = randomWeights(shape, 51), st = initialStates(shape, 1, 52), n = 512;
    const inp = randomInputs(shape, n, 53), one = randomInputs(shape, 1, 54);
    for (const level of levels) {
      const reps = level === 'portable' ? 1 : 3, steps = level === 'portable' ? 20 : 200;
      const rate = (mode: Mode, x: DeltaNetInputs, tokens: number, r: number) => {
        const res = runNative(shape, w, x, [tokens], st, { level, mode, threads: 1, reps: r });
        expect(res.allocations).toBe(0);
        expect(res.out.every(Number.isFinite)).toBe(true);
        return ((tokens * r) / res.cpuSeconds).toFixed(0);
      };
      console.log(`delta-net bench (Qwen3.5-0.8B linear layer: 16 × 128 k, 16 × 128 v, 6144 conv channels; ${level}, 1 thread, ` +
        `per layer, CPU time): prefill ${n} tokens recurrent ${rate('recurrent', inp, n, reps)} tok/s, chunked ` +
        `${rate('chunked', inp, n, reps)} tok/s; decode ${rate('recurrent', one, 1, steps)} tok/s (the model has 18 such layers)`);
    }
  });
});
