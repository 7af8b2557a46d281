/**
 * The native forward of Qwen3.5 / 3.6 hybrids (engine/native/models/qwen35.cpp) on `tiny-hybrid` (3 Gated DeltaNet +
 * 1 gated-attention layers) and `tiny-hybrid-moe`, F32:
 *   - against the float64 reference (hybrid-reference.ts): log-probs of every position of 1-, 7- and 100-token prompts;
 *   - against llama.cpp (node-llama-cpp, F32 GGUF, F32 KV) on 1, 7, 100 and 600 tokens and after appends:
 *     top-1 ≥ 99.5 % of positions, max |Δ log-prob| over llama.cpp's top-10 ≤ 5e-3;
 *   - equivalences (logits within 1e-3): prefill(A) then B = prefill(A + B); a fork (copyFrom) continues like the
 *     original; truncate + writeState(checkpoint) + append = a fresh prefill; batched decode of 3 sessions = solo;
 *     a stale slot is refused; every kernel level the CPU runs matches portable; the forward allocates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, KvSlot } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine } from '../../engine/native.js';
import { hybridForward } from '../support/hybrid-reference.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { ensureModel } from '../support/models.js';
import { compareWithOracle, emptyStats, type OracleStats } from '../support/oracle-compare.js';
import { logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, type ReferenceModel } from '../support/reference-forward.js';

interface Loaded {
  spec: ModelSpec;
  engine: Engine;
  ref: ReferenceModel;
  gguf: string;
}
const models = new Map<string, Loaded>();
const oracleTotal = new Map<string, OracleStats>();
let refWorst = 0;

async function load(preset: string): Promise<Loaded> {
  const m = await ensureModel(preset, 'f32', { gguf: true, builtinTokenizer: true });
  const spec = await loadModelSpec(m.dir);
  const engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 128 });
  return { spec, engine, ref: await loadReference(m.dir), gguf: m.gguf! };
}

beforeAll(async () => {
  for (const p of ['tiny-hybrid', 'tiny-hybrid-moe']) models.set(p, await load(p));
}, 600_000);
afterAll(() => {
  for (const m of models.values()) m.engine.dispose();
  console.log(`hybrid engine vs float64 reference: max |Δ log-prob| ${refWorst.toExponential(2)}`);
  for (const [p, s] of oracleTotal)
    console.log(`hybrid engine vs llama.cpp (${p}): ${s.top1}/${s.positions} top-1 agree, max |Δ logprob| over top-10 ${s.maxDiff.toExponential(2)}`);
});

/** Forwards `tokens` in chunks of at most the engine's batch size, logits for every position. */
async function prefillAll(e: Engine, slot: KvSlot, tokens: number[], chunk = 128): Promise<{ data: Float32Array[]; positions: number[] }> {
  const data: Float32Array[] = [];
  const positions: number[] = [];
  for (let i = 0; i < tokens.length; i += chunk) {
    const [out] = await e.forward([{ slot, tokens: tokens.slice(i, i + chunk), logits: 'all' }]);
    data.push(out!.data);
    positions.push(...out!.positions.map((p) => p + i)); // entry-relative → absolute
  }
  const all = new Float32Array(data.reduce((a, d) => a + d.length, 0));
  let o = 0;
  for (const d of data) all.set(d, o), (o += d.length);
  return { data: [all], positions };
}

for (const preset of ['tiny-hybrid', 'tiny-hybrid-moe']) {
  describe(`native hybrid forward vs float64 reference (${preset}, F32)`, () => {
    for (const n of [1, 7, 100]) {
      it(`matches every position of a ${n}-token prompt`, async () => {
        const { engine, ref, spec } = models.get(preset)!;
        const V = spec.config.vocabSize;
        const tokens = randomTokens(n, 77 * n + 3, Math.min(V, 151_643));
        const slot = engine.createSlot(1024, 'f32');
        const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
        slot.dispose();
        const r = hybridForward(ref, tokens);
        let worst = 0;
        for (let p = 0; p < n; p++) {
          const ours = logSoftmax(row(out!.data, p, V));
          const want = r.logprobs[p]!;
          worst = Math.max(worst, maxAbsDiff(ours, want) / Math.max(1, maxAbs(want)));
        }
        refWorst = Math.max(refWorst, worst);
        expect(worst).toBeLessThan(1e-4);
      });
    }
  });

  describe(`native hybrid forward vs llama.cpp (${preset}, F32 GGUF, F32 KV)`, () => {
    const accept = (s: OracleStats, n: number) => {
      expect(s.positions).toBe(n);
      expect(s.top1 / s.positions).toBeGreaterThanOrEqual(0.995);
      expect(s.maxDiff).toBeLessThanOrEqual(5e-3);
      const t = oracleTotal.get(preset) ?? emptyStats();
      t.positions += s.positions, t.top1 += s.top1, t.maxDiff = Math.max(t.maxDiff, s.maxDiff);
      oracleTotal.set(preset, t);
    };
    for (const n of [1, 7, 100, 600]) {
      it(`agrees on a ${n}-token prompt`, async () => {
        const { engine, gguf, spec } = models.get(preset)!;
        const V = spec.config.vocabSize;
        const tokens = randomTokens(n, 31 * n + 11, Math.min(V, 151_643));
        const oracle = await LlamaOracle.open(gguf, { contextSize: Math.max(256, n + 16) });
        const slot = engine.createSlot(1024, 'f32');
        try {
          const ll = await oracle.evaluate(tokens);
          const ours = await prefillAll(engine, slot, tokens);
          const s = emptyStats();
          compareWithOracle(ll, ours.data[0]!, ours.positions, s, V);
          accept(s, n);
        } finally {
          slot.dispose();
          await oracle.dispose();
        }
      }, 300_000);
    }
    it('agrees after appends (chunk, single-token steps, chunk)', async () => {
      const { engine, gguf, spec } = models.get(preset)!;
      const V = spec.config.vocabSize;
      const all = randomTokens(90, 4243, Math.min(V, 151_643));
      const oracle = await LlamaOracle.open(gguf, { contextSize: 256 });
      const slot = engine.createSlot(256, 'f32');
      try {
        const s = emptyStats();
        for (const [a, b] of [[0, 50], [50, 51], [51, 52], [52, 53], [53, 90]] as const) {
          const ll = await oracle.evaluate(all.slice(a, b));
          const [out] = await engine.forward([{ slot, tokens: all.slice(a, b), logits: 'all' }]);
          compareWithOracle(ll, out!.data, out!.positions.map((p) => p + a), s, V);
        }
        accept(s, 90);
      } finally {
        slot.dispose();
        await oracle.dispose();
      }
    }, 300_000);
  });
}
