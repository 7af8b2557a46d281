import { describe, expect, it } from 'vitest';
import { planStep, type PlanJob } from '../../engine/scheduler-plan.js';
import { PrefillShare } from '../../engine/scheduler-share.js';

const job = (id: number, kind: 'decode' | 'prefill', remaining: number, extra: Partial<PlanJob> = {}): PlanJob => ({ id, kind, remaining, priority: 0, seq: id, waited: 0, ...extra });
const opts = { budget: 512, shortThreshold: 1024, longShare: 0.25 };

describe('scheduler step planning', () => {
  it('feeds every decode one token, then prefill chunks within the budget', () => {
    const plan = planStep([job(1, 'decode', 1), job(2, 'prefill', 300), job(3, 'decode', 1), job(4, 'prefill', 300)], opts);
    expect(plan).toEqual([{ id: 1, n: 1 }, { id: 3, n: 1 }, { id: 2, n: 300 }, { id: 4, n: 210 }]);
    expect(plan.reduce((a, p) => a + p.n, 0)).toBeLessThanOrEqual(512);
  });

  it('puts a short tool-result append ahead of an earlier 100k-token document, keeping a share for the document', () => {
    const doc = job(1, 'prefill', 100_000);
    const tool = job(2, 'prefill', 200);
    const plan = planStep([doc, tool], opts);
    expect(plan[0]).toEqual({ id: 2, n: 200 });
    expect(plan[1]).toEqual({ id: 1, n: 312 });
    // many short appends cannot starve the document: it keeps ≥ longShare of the budget
    const shorts = Array.from({ length: 10 }, (_, i) => job(10 + i, 'prefill', 500));
    const p2 = planStep([doc, ...shorts], opts);
    expect(p2.find((p) => p.id === 1)!.n).toBe(128);
    expect(p2.reduce((a, p) => a + p.n, 0)).toBe(512);
  });

  it('orders by priority within a class and caps decodes at the budget (oldest waiting first)', () => {
    const plan = planStep([job(1, 'prefill', 100), job(2, 'prefill', 100, { priority: 5 })], { ...opts, budget: 150 });
    expect(plan).toEqual([{ id: 2, n: 100 }, { id: 1, n: 50 }]);
    const decodes = [job(1, 'decode', 1), job(2, 'decode', 1, { waited: 3 }), job(3, 'decode', 1)];
    expect(planStep(decodes, { ...opts, budget: 2 })).toEqual([{ id: 2, n: 1 }, { id: 1, n: 1 }]);
  });

  it('bounds the prefill share of a step while sequences decode (chunked prefill between their tokens)', () => {
    const decodes = Array.from({ length: 7 }, (_, i) => job(i + 1, 'decode', 1));
    const plan = planStep([...decodes, job(9, 'prefill', 16_000)], { ...opts, prefillWithDecodes: 40 });
    expect(plan.filter((p) => p.n === 1).length).toBe(7);
    expect(plan.find((p) => p.id === 9)).toEqual({ id: 9, n: 40 });
    // a prompt that fits the step is fed whole (its chunking never depends on timing)
    expect(planStep([...decodes, job(9, 'prefill', 16_000), job(10, 'prefill', 300)], { ...opts, prefillWithDecodes: 40 }).filter((p) => p.n > 1)).toEqual([{ id: 10, n: 300 }, { id: 9, n: 40 }]);
    // alone, the prefill takes the whole budget
    expect(planStep([job(9, 'prefill', 16_000)], { ...opts, prefillWithDecodes: 40 })).toEqual([{ id: 9, n: 512 }]);
    // the tail of a long prompt already fed in part is capped too, though it would fit (a whole step at its full depth)
    expect(planStep([...decodes, job(9, 'prefill', 300, { split: true })], { ...opts, prefillWithDecodes: 40 }).find((p) => p.id === 9)).toEqual({ id: 9, n: 40 });
    expect(planStep([job(9, 'prefill', 300, { split: true })], { ...opts, prefillWithDecodes: 40 })).toEqual([{ id: 9, n: 300 }]);
  });
});

describe('prefill share from measured step times', () => {
  it('sizes the chunk so a step with prefill takes at most factor × a decode-only step', () => {
    const s = new PrefillShare({ factor: 3, minChunk: 16 });
    expect(s.chunk(512, 7)).toBe(512); // nothing measured yet
    for (let i = 0; i < 50; i++) s.observe(20, 7, 0); // decode-only steps: 20 ms
    for (let i = 0; i < 50; i++) s.observe(20 + 0.5 * 64, 7, 64); // 0.5 ms per prefill token on top
    expect(s.chunk(512, 7)).toBe(80); // (3 − 1) × 20 / 0.5
    for (let i = 0; i < 50; i++) s.observe(20 + 10 * 64, 7, 64); // prefill at depth: 10 ms per token
    expect(s.chunk(512, 7)).toBe(16); // never below minChunk
    const d = new PrefillShare({ factor: 2 }); // default minChunk 1: deep in a long prompt a token may cost a decode step
    d.observe(10, 7, 0);
    d.observe(10 + 15 * 4, 7, 4);
    expect(d.chunk(512, 7)).toBe(1);
    expect(() => new PrefillShare({ factor: 1 })).toThrow(RangeError);
  });

  it('sizes the prefill share on typical steps, not on the spikes of a noisy machine', () => {
    const s = new PrefillShare({ factor: 2 });
    for (let i = 0; i < 40; i++) s.observe(i % 5 === 4 ? 60 : 10, 7, 0); // one decode step in five is preempted
    for (let i = 0; i < 40; i++) s.observe(i % 5 === 4 ? 100 : 20, 7, 100); // 0.1 ms per prefill token, the same spikes
    expect(s.chunk(512, 7)).toBe(100); // (2 − 1) × 10 / 0.1: the medians ignore the one step in five that was preempted
  });

  it('sizes the chunk for the decodes of the step at hand, not those of an earlier, busier phase', () => {
    const s = new PrefillShare({ factor: 2 });
    for (let i = 0; i < 40; i++) s.observe(40, 32, 0); // 32 streams: 40 ms decode-only steps
    for (let i = 0; i < 40; i++) s.observe(40 + 0.1 * 100, 32, 100); // 0.1 ms per prefill token
    expect(s.chunk(512, 32)).toBe(400); // (2 − 1) × 40 / 0.1
    expect(s.chunk(512, 7)).toBe(87); // 7 streams left: their share of those steps, 40 × 7 / 32 = 8.75 ms
    for (let i = 0; i < 40; i++) s.observe(5, 7, 0); // then their own steps: 5 ms
    expect(s.chunk(512, 7)).toBe(50);
    expect(s.chunk(512, 32)).toBe(50); // a step of more decodes than measured errs small
  });
});
