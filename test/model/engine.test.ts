import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import { DisposedError, EngineArgumentError, KvCapacityError } from '../../engine/errors.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { getPreset } from '../../engine/synth/model-presets.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine, nativeBinding } from '../../engine/native.js';
import { loadPeakRss } from '../support/load-rss.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, referenceForward, type ReferenceModel } from '../support/reference-forward.js';
import { writeZeroModel } from '../support/sparse-model.js';

let spec: ModelSpec;
let engine: Engine;
let ref: ReferenceModel;
const V = 151_936;

beforeAll(async () => {
  const m = await ensureModel('tiny', 'f32');
  spec = await loadModelSpec(m.dir);
  engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
  ref = await loadReference(m.dir);
});
afterAll(() => engine?.dispose());

async function prefill(tokens: number[], opts: { kv?: 'f32' | 'f16' | 'bf16'; e?: Engine } = {}) {
  const e = opts.e ?? engine;
  const slot = e.createSlot(4096, opts.kv ?? 'f32');
  const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
  return { slot, logits: out!.data };
}

describe('native engine vs float64 reference (tiny, f32 weights, f32 KV)', () => {
  for (const n of [1, 7, 100]) {
    it(`agrees to 1e-4 relative on every position of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 1000 + n);
      const { slot, logits } = await prefill(tokens);
      const r = referenceForward(ref, tokens);
      for (let p = 0; p < n; p++) {
        const ours = row(logits, p, V);
        const lp = r.logprobs[p]!;
        // compare log-softmax (the reference returns log-probs); scale = largest magnitude of the row
        const ourLp = logSoftmax(ours);
        expect(argmax(ourLp)).toBe(argmax(lp));
        expect(maxAbsDiff(ourLp, lp) / maxAbs(lp)).toBeLessThan(1e-4);
      }
      slot.dispose();
    });
  }
});

describe('golden greedy decode (tiny f32, seed 0)', () => {
  // Recorded from this engine and checked against the float64 reference below; a change here means the
  // generated weights (MAKE_MODEL_VERSION) or the arithmetic changed.
  const GOLDEN = [117276, 92313, 86258, 86258, 25168, 25168, 25168, 134707, 68665, 68665, 68665, 91096, 142254, 145920, 85801, 2827];

  it('decodes the fixed token sequence, the same as the float64 reference', async () => {
    const prompt = randomTokens(12, 2024);
    const slot = engine.createSlot(256);
    let [out] = await engine.forward([{ slot, tokens: prompt }]);
    const gen: number[] = [];
    for (let i = 0; i < GOLDEN.length; i++) {
      gen.push(argmax(out!.data));
      [out] = await engine.forward([{ slot, tokens: [gen[i]!] }]);
    }
    expect(gen).toEqual(GOLDEN);
    const r = referenceForward(ref, [...prompt, ...GOLDEN.slice(0, -1)], { logitPositions: Array.from({ length: 16 }, (_, i) => 11 + i) });
    expect(r.logprobs.map((lp) => argmax(lp))).toEqual(GOLDEN);
    slot.dispose();
  });
});

describe('append, fork, truncate, batch', () => {
  const tokens = randomTokens(100, 7);
  let full: Float32Array;
  beforeAll(async () => {
    full = (await prefill(tokens)).logits;
  });

  for (const split of [1, 7, 50, 63, 64, 65, 99]) {
    it(`prefill(A) then prefill(B) equals prefill(A+B), split at ${split}`, async () => {
      const slot = engine.createSlot(4096, 'f32');
      await engine.forward([{ slot, tokens: tokens.slice(0, split), logits: 'none' }]);
      expect(slot.length).toBe(split);
      const [b] = await engine.forward([{ slot, tokens: tokens.slice(split), logits: 'all' }]);
      expect(slot.length).toBe(100);
      for (let i = 0; i < 100 - split; i++) expect(maxAbsDiff(row(b!.data, i, V), row(full, split + i, V))).toBeLessThan(1e-3);
      slot.dispose();
    });
  }

  it('counts the positions each slot computed, and refuses overlapping operations on one slot', async () => {
    const a = engine.createSlot(4096, 'f32');
    const b = engine.createSlot(4096, 'f32');
    await engine.forward([{ slot: a, tokens: tokens.slice(0, 30), logits: 'none' }]);
    await b.copyFrom(a, 20);
    await engine.forward([{ slot: b, tokens: tokens.slice(20, 25), logits: 'none' }]);
    expect([a.tokensForwarded, b.tokensForwarded]).toEqual([30, 5]);
    const pending = engine.forward([{ slot: a, tokens: tokens.slice(30, 60), logits: 'none' }]);
    await expect(a.readKv(0, 10)).rejects.toThrow(/busy/);
    await expect(a.copyFrom(b, 5)).rejects.toThrow(/busy/);
    const other = b.readKv(0, 25); // another slot may overlap
    await Promise.all([pending, other]);
    expect(a.length).toBe(60);
    a.dispose();
    b.dispose();
  });

  it('fork (KV copy) then continue equals the original', async () => {
    const a = engine.createSlot(4096, 'f32');
    await engine.forward([{ slot: a, tokens: tokens.slice(0, 80), logits: 'none' }]);
    const b = engine.createSlot(4096, 'f32');
    await b.copyFrom(a, 50);
    expect(b.length).toBe(50);
    const [out] = await engine.forward([{ slot: b, tokens: tokens.slice(50), logits: 'all' }]);
    for (let i = 0; i < 50; i++) expect(maxAbsDiff(row(out!.data, i, V), row(full, 50 + i, V))).toBeLessThan(1e-3);
    expect(a.length).toBe(80); // the source is untouched
    a.dispose();
    b.dispose();
  });

  it('truncate then rewrite equals a fresh prefill of the new sequence', async () => {
    const slot = engine.createSlot(4096, 'f32');
    await engine.forward([{ slot, tokens, logits: 'none' }]);
    slot.truncate(40);
    const other = randomTokens(30, 99);
    const [out] = await engine.forward([{ slot, tokens: other, logits: 'all' }]);
    const fresh = (await prefill([...tokens.slice(0, 40), ...other])).logits;
    for (let i = 0; i < 30; i++) expect(maxAbsDiff(row(out!.data, i, V), row(fresh, 40 + i, V))).toBeLessThan(1e-3);
    expect(() => slot.truncate(1000)).toThrow(KvCapacityError);
    slot.dispose();
  });

  it('recycle empties a slot and keeps its pages; readKv fills a given buffer', async () => {
    const a = engine.createSlot(4096, 'f16');
    await engine.forward([{ slot: a, tokens: tokens.slice(0, 60), logits: 'none' }]);
    const committed = a.residentBytes();
    a.recycle();
    expect([a.length, a.tokensForwarded, a.residentBytes()]).toEqual([0, 0, committed]);
    const b = engine.createSlot(4096, 'f16');
    const [x, y] = await engine.forward([
      { slot: a, tokens: tokens.slice(20, 50), logits: 'all' },
      { slot: b, tokens: tokens.slice(20, 50), logits: 'all' },
    ]);
    expect(maxAbsDiff(x!.data, y!.data)).toBe(0); // the old K/V past length is never read
    const into = Buffer.alloc(30 * a.bytesPerToken);
    expect(await a.readKv(0, 30, into)).toBe(into);
    expect(Buffer.compare(into, await b.readKv(0, 30))).toBe(0);
    await expect(a.readKv(0, 30, Buffer.alloc(7))).rejects.toThrow(/destination/);
    a.dispose();
    b.dispose();
  });

  it('readKv / writeKv round-trips a slot', async () => {
    const a = engine.createSlot(4096, 'f16');
    await engine.forward([{ slot: a, tokens: tokens.slice(0, 60), logits: 'none' }]);
    const bytes = await a.readKv(0, 60);
    expect(bytes.length).toBe(60 * a.bytesPerToken);
    const b = engine.createSlot(4096, 'f16');
    await b.writeKv(0, await a.readKv(0, 30)); // ranges are laid out [layer][k|v][head][pos][dim]
    await b.writeKv(30, await a.readKv(30, 60));
    const c = engine.createSlot(4096, 'f16');
    await c.writeKv(0, bytes);
    expect(Buffer.compare(await c.readKv(0, 60), bytes)).toBe(0);
    c.dispose();
    expect(b.length).toBe(60);
    const [x, y] = await engine.forward([
      { slot: a, tokens: tokens.slice(60), logits: 'all' },
      { slot: b, tokens: tokens.slice(60), logits: 'all' },
    ]);
    // 80 tokens > maxBatchTokens 64: b's last 16 rows run in a second chunk through the row-tile matmul, a's in the panel path
    expect(maxAbsDiff(x!.data, y!.data) / maxAbs(x!.data)).toBeLessThan(2e-4);
    a.dispose();
    b.dispose();
  });

  it('one forward over several slots equals separate forwards', async () => {
    const lens = [5, 33, 70];
    const slots = lens.map(() => engine.createSlot(4096, 'f32'));
    await engine.forward(slots.map((slot, i) => ({ slot, tokens: tokens.slice(0, lens[i]), logits: 'none' as const })));
    // decode one token in each, batched
    const outs = await engine.forward(slots.map((slot, i) => ({ slot, tokens: [tokens[lens[i]!]!] })));
    for (let i = 0; i < lens.length; i++) expect(maxAbsDiff(outs[i]!.data, row(full, lens[i]!, V))).toBeLessThan(1e-3);
    for (const s of slots) s.dispose();
  });
});

describe('kernels, allocation, event loop, lifecycle', () => {
  // Every vector level this CPU runs is compared with portable (a level it lacks is skipped, saying so).
  for (const level of ['avx512', 'avx2'] as const) {
    const missing = !nativeBinding().kernelLevels.includes(level);
    if (missing) console.log(`skipped: the ${level} path vs portable: this CPU has no ${level}`);
    it.skipIf(missing)(`the ${level} path and the portable path agree`, async () => {
      const tokens = randomTokens(70, 3);
      const fastEngine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: level });
      const portable = await loadEngine(spec, { threads: 2, maxBatchTokens: 64, kernels: 'portable' });
      expect([fastEngine.kernels, portable.kernels]).toEqual([level, 'portable']);
      // 70 tokens in chunks of 64 + 6: the packed-panel and the packed-row paths; then 2-token and 1-token steps
      const fast = await prefill(tokens, { e: fastEngine });
      const slow = await prefill(tokens, { e: portable });
      expect(maxAbsDiff(fast.logits, slow.logits) / maxAbs(slow.logits)).toBeLessThan(1e-4);
      for (let p = 0; p < 70; p++) expect(argmax(row(fast.logits, p, V))).toBe(argmax(row(slow.logits, p, V)));
      for (const step of [[5, 6], [7], [8]]) {
        const [x] = await fastEngine.forward([{ slot: fast.slot, tokens: step, logits: 'all' }]);
        const [y] = await portable.forward([{ slot: slow.slot, tokens: step, logits: 'all' }]);
        expect(maxAbsDiff(x!.data, y!.data) / maxAbs(y!.data)).toBeLessThan(1e-4);
      }
      for (const kv of ['bf16', 'f16'] as const) {
        // K/V stored and read in 16-bit types on both paths; f32 sums in another order may round one
        // element to the neighbouring 16-bit value, so the bar is looser than for f32 KV
        const a = await prefill(tokens.slice(0, 20), { kv, e: fastEngine });
        const b = await prefill(tokens.slice(0, 20), { kv, e: portable });
        expect(maxAbsDiff(a.logits, b.logits) / maxAbs(b.logits)).toBeLessThan(1e-2);
        for (let p = 0; p < 20; p++) expect(argmax(row(a.logits, p, V))).toBe(argmax(row(b.logits, p, V)));
      }
      fastEngine.dispose();
      portable.dispose();
    });
  }

  it('steady-state forward makes no heap allocation (and the counter does count)', async () => {
    expect(nativeBinding().allocCounterProbe()).toBe(1);
    const slot = engine.createSlot(4096, 'f16');
    await engine.forward([{ slot, tokens: randomTokens(64, 5) }]); // warm-up
    const before = engine.counters().forwardAllocations;
    await engine.forward([{ slot, tokens: randomTokens(50, 6) }]);
    for (let i = 0; i < 20; i++) await engine.forward([{ slot, tokens: [i + 10] }]);
    expect(engine.counters().forwardAllocations - before).toBe(0);
    slot.dispose();
  });

  it('keeps the event loop running during a long prefill', async () => {
    const e = await loadEngine(spec, { threads: 2, maxBatchTokens: 2048 });
    const slot = e.createSlot(4096, 'f16');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const t0 = performance.now();
    const p = e.forward([{ slot, tokens: randomTokens(2048, 11), logits: 'none' }]);
    await new Promise((r) => setTimeout(r, 0));
    const ticksAtStart = ticks;
    await p;
    clearInterval(timer);
    expect(e.counters().forwardCalls).toBe(1); // one native call
    expect(performance.now() - t0).toBeGreaterThan(20);
    expect(ticks - ticksAtStart).toBeGreaterThanOrEqual(3);
    e.dispose();
  });

  it('rejects bad input with named errors', async () => {
    const slot = engine.createSlot(10, 'f16');
    await expect(engine.forward([{ slot, tokens: [V] }])).rejects.toThrow(EngineArgumentError);
    await expect(engine.forward([{ slot, tokens: [-1] }])).rejects.toThrow(EngineArgumentError);
    await expect(engine.forward([{ slot, tokens: [] }])).rejects.toThrow(EngineArgumentError);
    await expect(engine.forward([{ slot, tokens: randomTokens(11, 1) }])).rejects.toThrow(KvCapacityError);
    await expect(engine.forward([{ slot, tokens: [1] }, { slot, tokens: [2] }])).rejects.toThrow(EngineArgumentError);
    await expect(engine.forward([{ slot, tokens: [1, 2], logits: [5] }])).rejects.toThrow(EngineArgumentError);
    expect(() => engine.createSlot(0)).toThrow(EngineArgumentError);
    expect(slot.length).toBe(0); // nothing was written by rejected calls
    slot.dispose();
    slot.dispose(); // idempotent
  });

  it('dispose is idempotent and later calls throw DisposedError', async () => {
    const e = await loadEngine(spec, { threads: 1 });
    const slot = e.createSlot(100);
    e.dispose();
    e.dispose();
    expect(() => e.createSlot(10)).toThrow(DisposedError);
    await expect(e.forward([{ slot, tokens: [1] }])).rejects.toThrow(DisposedError);
    await expect(slot.readKv(0, 0)).rejects.toThrow(DisposedError);
  });

  it('loading reads the weights once: peak RSS grows by at most 1.2× the weight bytes (mapped, or copied into 2 MiB pages slab by slab)', async () => {
    const weightBytes = spec.tensors.reduce((a, t) => a + t.nbytes, 0);
    const { before, peak } = loadPeakRss(spec.dir, { threads: 2, maxBatchTokens: 16 });
    expect(peak - before).toBeGreaterThan(0.5 * weightBytes); // the weights really were read
    expect(peak - before).toBeLessThanOrEqual(1.2 * weightBytes);
  });

  it('a slot of 1,000,000 positions of the qwen3-0.6b shape commits memory only as positions are written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resident-zero-'));
    try {
      const c = getPreset('qwen3-0.6b')!.config;
      writeZeroModel(dir, { ...c, hiddenSize: 64, intermediateSize: 64 }); // same KV shape: 28 layers × 8 kv heads × 128
      const e = await loadEngine(await loadModelSpec(dir), { threads: 1, maxBatchTokens: 16 });
      const rss0 = process.memoryUsage().rss;
      const slot = e.createSlot(1_000_000, 'bf16');
      expect(slot.bytesPerToken).toBe(28 * 8 * 128 * 2 * 2);
      const rss1 = process.memoryUsage().rss;
      expect(rss1 - rss0).toBeLessThan(64 * 2 ** 20);
      await e.forward([{ slot, tokens: [1, 2, 3, 4], logits: 'none' }]);
      expect(slot.length).toBe(4);
      expect(slot.residentBytes()).toBeLessThan(4 * 2 ** 20);
      slot.dispose();
      e.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
