/**
 * Qwen3-MoE engine behaviour on `tiny-moe` (8 experts, 2 per token, moe_intermediate 64, f32):
 * batched decode across slots equals one-at-a-time decode; expert statistics (routed counts sum to
 * tokens × k, only routed experts are read, each once per step); an expert no token routes to is not read
 * (its weights poisoned with NaN change nothing, while poisoning a routed one does); the forward stays
 * allocation-free; a checkpoint mixing dense (mlp_only_layers) and sparse layers matches the float64 reference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, ExpertLayerStats } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { initFor, WeightStream } from '../../engine/synth/make-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine } from '../../engine/native.js';
import { getPreset } from '../../engine/synth/model-presets.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, referenceForward } from '../support/reference-forward.js';
import { writeZeroModel } from '../support/sparse-model.js';

const V = 151_936;
let dir: string;
let spec: ModelSpec;
let engine: Engine;
let E: number;
let K: number;
let expertBytes: number; // gate + up + down of one expert, f32
const tmp = mkdtempSync(join(tmpdir(), 'resident-moe-'));

beforeAll(async () => {
  dir = (await ensureModel('tiny-moe', 'f32')).dir;
  spec = await loadModelSpec(dir);
  engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
  const m = spec.config.moe!;
  E = m.numExperts;
  K = m.numExpertsPerTok;
  expertBytes = 3 * m.moeIntermediateSize * spec.config.hiddenSize * 4;
});
afterAll(() => {
  engine?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const stats = (e: Engine = engine): ExpertLayerStats[] => e.expertStats!();

describe('batched decode across slots (tiny-moe)', () => {
  it('equals one-at-a-time decode, with different routings in the batch', async () => {
    const lens = [3, 20, 45, 70];
    const prompts = lens.map((n, i) => randomTokens(n, 500 + i));
    const batched = lens.map(() => engine.createSlot(512, 'f32'));
    const single = lens.map(() => engine.createSlot(512, 'f32'));
    await engine.forward(batched.map((slot, i) => ({ slot, tokens: prompts[i]!, logits: 'none' as const })));
    for (let i = 0; i < lens.length; i++) await single[i]!.copyFrom(batched[i]!, lens[i]!);
    let distinctMax = 0;
    for (let step = 0; step < 6; step++) {
      // step 2 mixes a 5-token append into the decode batch
      const toks = lens.map((_, i) => randomTokens(step === 2 && i === 1 ? 5 : 1, 1000 * step + i));
      const outs = await engine.forward(batched.map((slot, i) => ({ slot, tokens: toks[i]!, logits: 'all' as const })));
      const st = stats();
      for (const l of st) {
        expect(sum(l.stepCounts)).toBe(sum(toks.map((t) => t.length)) * K);
        distinctMax = Math.max(distinctMax, l.stepCounts.filter((c) => c > 0).length);
      }
      for (let i = 0; i < lens.length; i++) {
        const [one] = await engine.forward([{ slot: single[i]!, tokens: toks[i]!, logits: 'all' }]);
        expect(one!.positions).toEqual(outs[i]!.positions);
        expect(maxAbsDiff(one!.data, outs[i]!.data) / maxAbs(one!.data)).toBeLessThan(1e-4); // batched rows take other matmul paths than n = 1
        for (let r = 0; r < one!.positions.length; r++) expect(argmax(row(outs[i]!.data, r, V))).toBe(argmax(row(one!.data, r, V)));
      }
    }
    expect(distinctMax).toBeGreaterThan(K); // the batch's tokens did not all pick the same experts
    for (const s of [...batched, ...single]) s.dispose();
  });
});

describe('expert statistics (tiny-moe)', () => {
  it('counts sum to tokens × k per MoE layer; only routed experts are read, once per step', async () => {
    expect(stats().map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    engine.resetExpertStats!();
    expect(stats().every((l) => sum(l.counts) === 0)).toBe(true);
    const slot = engine.createSlot(512, 'f32');
    const check = (n: number) => {
      for (const l of stats()) {
        expect(sum(l.stepCounts)).toBe(n * K);
        for (let e = 0; e < E; e++) expect(l.stepBytes[e]).toBe(l.stepCounts[e]! > 0 ? expertBytes : 0);
      }
    };
    await engine.forward([{ slot, tokens: randomTokens(60, 71), logits: 'none' }]); // one step, up to 60 rows per expert
    check(60);
    for (let i = 0; i < 5; i++) {
      await engine.forward([{ slot, tokens: [100 + i] }]); // decode: exactly k experts touched per layer
      check(1);
      for (const l of stats()) expect(l.stepBytes.filter((b) => b > 0).length).toBe(K);
    }
    for (const l of stats()) expect(sum(l.counts)).toBe(65 * K);
    engine.resetExpertStats!();
    expect(stats().every((l) => sum(l.counts) === 0)).toBe(true);
    slot.dispose();
  });

  it('a call longer than the 1024-token sparse chunk: routed in two passes, same logits as 64-token calls', async () => {
    const big = await loadEngine(spec, { threads: 2, maxBatchTokens: 1100 });
    try {
      const tokens = randomTokens(1100, 31);
      const a = big.createSlot(1100, 'f32');
      const [x] = await big.forward([{ slot: a, tokens, logits: [0, 1023, 1024, 1099] }]);
      for (const l of stats(big)) {
        expect(sum(l.stepCounts)).toBe(1100 * K);
        for (let e = 0; e < E; e++) expect([0, expertBytes, 2 * expertBytes]).toContain(l.stepBytes[e]);
        expect(l.stepBytes.some((b) => b === 2 * expertBytes)).toBe(true); // read again in the second pass
      }
      const b = engine.createSlot(1100, 'f32');
      const [y] = await engine.forward([{ slot: b, tokens, logits: [0, 1023, 1024, 1099] }]);
      expect(maxAbsDiff(x!.data, y!.data)).toBeLessThan(1e-3);
      a.dispose();
      b.dispose();
    } finally {
      big.dispose();
    }
  });

  it('a dense model reports no MoE layers', async () => {
    const dense = await loadEngine(await loadModelSpec((await ensureModel('tiny', 'f32')).dir), { threads: 1, maxBatchTokens: 16 });
    expect(dense.expertStats!()).toEqual([]);
    dense.dispose();
  });

  it('the forward stays allocation-free (prefill, decode, batched decode)', async () => {
    const a = engine.createSlot(512, 'f16');
    const b = engine.createSlot(512, 'f16');
    await engine.forward([{ slot: a, tokens: randomTokens(64, 5) }, { slot: b, tokens: [7] }]); // warm-up
    const before = engine.counters().forwardAllocations;
    await engine.forward([{ slot: a, tokens: randomTokens(50, 6) }]);
    for (let i = 0; i < 10; i++) await engine.forward([{ slot: a, tokens: [i + 10] }, { slot: b, tokens: [i + 20] }]);
    expect(engine.counters().forwardAllocations - before).toBe(0);
    a.dispose();
    b.dispose();
  });
});

describe('unrouted experts are not read (NaN-poisoned weights)', () => {
  it('poisoning every expert the call does not route to changes nothing; poisoning a routed one does', async () => {
    const tokens = randomTokens(2, 4711);
    const slot = engine.createSlot(64, 'f32');
    const [clean] = await engine.forward([{ slot, tokens, logits: 'all' }]);
    const unused = stats().map((l) => ({ layer: l.layer, experts: l.stepCounts.flatMap((c, e) => (c === 0 ? [e] : [])) }));
    slot.dispose();
    expect(unused.every((u) => u.experts.length >= E - 2 * K)).toBe(true);

    // a copy of the checkpoint with NaN in gate/up/down of every unused (layer, expert)
    const pdir = join(tmp, 'poisoned');
    rmSync(pdir, { recursive: true, force: true });
    mkdirSync(pdir);
    for (const f of ['config.json', 'generation_config.json']) copyFileSync(join(dir, f), join(pdir, f));
    const file = join(pdir, 'model.safetensors');
    copyFileSync(join(dir, 'model.safetensors'), file);
    const nan = Buffer.alloc(64 * 1024);
    for (let i = 0; i < nan.length; i += 4) nan.writeUInt32LE(0x7fc00000, i);
    const fd = openSync(file, 'r+');
    let poisoned = 0;
    for (const { layer, experts } of unused)
      for (const e of experts)
        for (const p of ['gate_proj', 'up_proj', 'down_proj']) {
          const t = spec.tensors.find((x) => x.name === `model.layers.${layer}.mlp.experts.${e}.${p}.weight`)!;
          for (let off = 0; off < t.nbytes; off += nan.length) writeSync(fd, nan, 0, Math.min(nan.length, t.nbytes - off), t.offset + off);
          poisoned++;
        }
    closeSync(fd);
    expect(poisoned).toBeGreaterThan(0);

    const pe = await loadEngine(await loadModelSpec(pdir), { threads: 2, maxBatchTokens: 64 });
    try {
      const s1 = pe.createSlot(64, 'f32');
      const [out] = await pe.forward([{ slot: s1, tokens, logits: 'all' }]);
      expect(out!.data.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(out!.data, clean!.data)).toBe(0);
      for (const l of stats(pe)) for (const e of unused.find((u) => u.layer === l.layer)!.experts) expect(l.stepBytes[e]).toBe(0);
      // control: a longer prompt routes to poisoned experts, and the NaN reaches the logits
      const s2 = pe.createSlot(64, 'f32');
      const [bad] = await pe.forward([{ slot: s2, tokens: randomTokens(30, 8), logits: 'last' }]);
      const hit = stats(pe).some((l) => unused.find((u) => u.layer === l.layer)!.experts.some((e) => l.stepCounts[e]! > 0));
      expect(hit).toBe(true);
      expect(bad!.data.some(Number.isNaN)).toBe(true);
    } finally {
      pe.dispose();
    }
  });
});

describe('dense and sparse layers in one checkpoint (mlp_only_layers)', () => {
  it('matches the float64 reference with layer 1 dense', async () => {
    // shard 1: the tiny-moe weights (symlink); shard 2: a dense MLP for layer 1; config: mlp_only_layers [1]
    const mdir = join(tmp, 'mixed');
    mkdirSync(mdir);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    cfg.mlp_only_layers = [1];
    writeFileSync(join(mdir, 'config.json'), JSON.stringify(cfg));
    symlinkSync(join(dir, 'model.safetensors'), join(mdir, 'model-00001-of-00002.safetensors'));
    const c = { ...spec.config, moe: { ...spec.config.moe!, mlpOnlyLayers: [1] } };
    const H = c.hiddenSize;
    const I = c.intermediateSize;
    const dense = [
      { name: 'model.layers.1.mlp.gate_proj.weight', dtype: 'f32' as const, shape: [I, H] },
      { name: 'model.layers.1.mlp.up_proj.weight', dtype: 'f32' as const, shape: [I, H] },
      { name: 'model.layers.1.mlp.down_proj.weight', dtype: 'f32' as const, shape: [H, I] },
    ];
    const { prefix } = buildSafetensorsHeader(dense, { format: 'pt' });
    const parts: Buffer[] = [prefix];
    for (const t of dense) {
      const v = new Float32Array(t.shape[0]! * t.shape[1]!);
      const { mean, std } = initFor(t.name, c);
      new WeightStream(7, t.name).fill(v, mean, std);
      parts.push(Buffer.from(v.buffer));
    }
    writeFileSync(join(mdir, 'model-00002-of-00002.safetensors'), Buffer.concat(parts));
    const weightMap: Record<string, string> = {};
    for (const t of spec.tensors) weightMap[t.name] = 'model-00001-of-00002.safetensors';
    for (const t of dense) weightMap[t.name] = 'model-00002-of-00002.safetensors';
    writeFileSync(join(mdir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const mspec = await loadModelSpec(mdir);
    const me = await loadEngine(mspec, { threads: 2, maxBatchTokens: 64 });
    try {
      expect(stats(me).map((l) => l.layer)).toEqual([0, 2, 3]);
      const ref = await loadReference(mdir);
      const tokens = randomTokens(24, 123);
      const slot = me.createSlot(64, 'f32');
      const [out] = await me.forward([{ slot, tokens, logits: 'all' }]);
      const r = referenceForward(ref, tokens);
      for (let p = 0; p < tokens.length; p++) {
        const lp = logSoftmax(row(out!.data, p, V));
        expect(argmax(lp)).toBe(argmax(r.logprobs[p]!));
        expect(maxAbsDiff(lp, r.logprobs[p]!) / maxAbs(r.logprobs[p]!)).toBeLessThan(1e-4);
      }
      // and differs from the all-sparse model (layer 1 really took the dense path)
      const s2 = engine.createSlot(64, 'f32');
      const [sparse] = await engine.forward([{ slot: s2, tokens, logits: 'last' }]);
      expect(maxAbsDiff(row(sparse!.data, 0, V), row(out!.data, tokens.length - 1, V))).toBeGreaterThan(1e-2);
      s2.dispose();
    } finally {
      me.dispose();
    }
  });
});

describe('loading a Qwen3-30B-A3B-shaped checkpoint', () => {
  it('maps the weights: 48 layers × 128 experts (122 GB of F32, sparse zero file) load with < 200 MB of RSS', async () => {
    const zdir = join(tmp, 'zero-30b');
    writeZeroModel(zdir, { ...getPreset('qwen3-30b-a3b-8l')!.config, nLayers: 48 });
    const zspec = await loadModelSpec(zdir);
    const weightBytes = zspec.tensors.reduce((a, t) => a + t.nbytes, 0);
    expect(weightBytes).toBeGreaterThan(120e9);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const e = await loadEngine(zspec, { threads: 1, maxBatchTokens: 16 });
    const ms = performance.now() - t0;
    const grown = process.memoryUsage().rss - rss0;
    console.log(`30B-A3B shape: ${zspec.tensors.length} tensors, ${(weightBytes / 1e9).toFixed(1)} GB, load ${ms.toFixed(0)} ms, RSS +${(grown / 1e6).toFixed(1)} MB`);
    expect(e.expertStats!().length).toBe(48);
    expect(grown).toBeLessThan(200e6);
    e.dispose();
  });
});
