/**
 * Validates the two oracles for Qwen3.5 hybrids against each other before the native forward exists: llama.cpp
 * (node-llama-cpp, arch `qwen35` / `qwen35moe`, our F32 GGUF, F32 KV) and the float64 reference forward
 * (hybrid-reference.ts, on our safetensors) must give the same next-token distributions on `tiny-hybrid`
 * (3 Gated DeltaNet + 1 gated-attention layers, 2 key / 4 value heads: the GGUF's value-head reorder is exercised)
 * for prompts of 1, 7 and 100 tokens and after appends (the reference carrying its recurrent state step by step),
 * and on `tiny-hybrid-moe`. Bars: top-1 agreement on every position, max |Δ log-prob| over llama.cpp's top-10 ≤ 5e-4
 * (measured ≤ 8e-5 over 310 positions: llama.cpp computes in F32). Also: the random model is peaked and uses its context.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../runtime/cli.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { compareWithRows, emptyStats, type OracleStats } from '../support/oracle-compare.js';
import { ensureModel } from '../support/models.js';
import { randomTokens } from '../support/numeric.js';
import { hybridForward, newHybridState } from '../support/hybrid-reference.js';
import { loadReference, topK, type ReferenceModel } from '../support/reference-forward.js';

const total = emptyStats();

function accept(s: OracleStats, positions: number): void {
  expect(s.positions).toBe(positions);
  total.positions += s.positions;
  total.top1 += s.top1;
  total.maxDiff = Math.max(total.maxDiff, s.maxDiff);
  expect(s.top1).toBe(s.positions);
  expect(s.maxDiff).toBeLessThanOrEqual(5e-4);
}

let gguf: string;
let ref: ReferenceModel;

beforeAll(async () => {
  const m = await ensureModel('tiny-hybrid', 'f32', { gguf: true, builtinTokenizer: true });
  gguf = m.gguf!;
  ref = await loadReference(m.dir);
  expect(ref.config.arch).toBe('qwen35');
  expect(ref.config.layerKinds).toEqual(['linear', 'linear', 'linear', 'attention']);
});
afterAll(() => {
  console.log(`hybrid oracle self-check: llama.cpp vs float64 reference: ${total.top1}/${total.positions} top-1 agree, max |Δ logprob| ${total.maxDiff.toExponential(2)}`);
});

describe('hybrid oracle self-check: llama.cpp vs float64 reference (tiny-hybrid, F32)', () => {
  for (const n of [1, 7, 100]) {
    it(`agrees at every position of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 31 * n + 5);
      const oracle = await LlamaOracle.open(gguf, { contextSize: 256 });
      try {
        const ll = await oracle.evaluate(tokens);
        const r = hybridForward(ref, tokens);
        const s = emptyStats();
        compareWithRows(ll, r.positions, r.logprobs, s);
        accept(s, n);
      } finally {
        await oracle.dispose();
      }
    });
  }

  it('agrees after appends (chunk, single-token decode steps, chunk), the reference carrying its state', async () => {
    const all = randomTokens(90, 4242);
    const oracle = await LlamaOracle.open(gguf, { contextSize: 256 });
    const state = newHybridState(ref.config);
    try {
      const s = emptyStats();
      const rows: Float64Array[] = [];
      for (const [a, b] of [[0, 50], [50, 51], [51, 52], [52, 53], [53, 90]] as const) {
        const ll = await oracle.evaluate(all.slice(a, b));
        const r = hybridForward(ref, all.slice(a, b), { state });
        expect(r.positions[0]).toBe(a);
        compareWithRows(ll, r.positions, r.logprobs, s);
        rows.push(...r.logprobs);
      }
      expect(oracle.length).toBe(90);
      expect(state.length).toBe(90);
      accept(s, 90);
      // the same tokens in one prefill give the same rows (the state carries everything)
      const once = hybridForward(ref, all);
      for (let p = 0; p < 90; p += 7) {
        for (let id = 0; id < rows[p]!.length; id += 997) expect(rows[p]![id]).toBeCloseTo(once.logprobs[p]![id]!, 9);
      }
    } finally {
      await oracle.dispose();
    }
  });

  it('agrees on tiny-hybrid-moe (F32, 100 tokens)', async () => {
    const m = await ensureModel('tiny-hybrid-moe', 'f32', { gguf: true, builtinTokenizer: true });
    const moe = await loadReference(m.dir);
    expect(moe.config.arch).toBe('qwen35moe');
    const tokens = randomTokens(100, 777);
    const oracle = await LlamaOracle.open(m.gguf!, { contextSize: 256 });
    try {
      const ll = await oracle.evaluate(tokens);
      const r = hybridForward(moe, tokens);
      const s = emptyStats();
      compareWithRows(ll, r.positions, r.logprobs, s);
      accept(s, 100);
    } finally {
      await oracle.dispose();
    }
  });

  it('the random model is peaked, not degenerate, and uses its context (reference forward)', () => {
    const tokens = randomTokens(60, 99);
    const r = hybridForward(ref, tokens);
    const best = r.logprobs.map((row) => topK(row, 1)[0]!);
    const meanTop1 = best.reduce((a, b) => a + Math.exp(b.logprob), 0) / best.length;
    // the same token without its context (alone at position 0) predicts something else at most positions
    let contextual = 0;
    for (let p = 10; p < tokens.length; p++) {
      const alone = topK(hybridForward(ref, [tokens[p]!]).logprobs[0]!, 1)[0]!.id;
      if (alone !== best[p]!.id) contextual++;
    }
    console.log(`tiny-hybrid: mean top-1 p ${meanTop1.toFixed(3)}, ${new Set(best.map((b) => b.id)).size}/60 distinct top-1, ` +
      `${contextual}/50 positions whose top-1 changes with the context; max |residual| ${r.maxAbs.residual.toFixed(1)}`);
    expect(meanTop1).toBeGreaterThan(0.3);
    expect(meanTop1).toBeLessThan(0.95);
    expect(new Set(best.map((b) => b.id)).size).toBeGreaterThan(30);
    expect(contextual).toBeGreaterThan(10);
  });
});

describe('resident make-model --preset tiny-hybrid --gguf', () => {
  const root = mkdtempSync(join(tmpdir(), 'resident-hybrid-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes a GGUF that llama.cpp loads and evaluates like the reference', async () => {
    const out = join(root, 'm');
    const file = join(root, 'm.gguf');
    expect(await main(['make-model', '--preset', 'tiny-hybrid', '--dtype', 'f32', '--out', out, '--gguf', file, '--tokenizer', 'builtin'])).toBe(0);
    expect(existsSync(file)).toBe(true);
    const tokens = randomTokens(12, 5);
    const oracle = await LlamaOracle.open(file, { contextSize: 64 });
    try {
      const ll = await oracle.evaluate(tokens);
      const r = hybridForward(await loadReference(out), tokens);
      const s = emptyStats();
      compareWithRows(ll, r.positions, r.logprobs, s);
      accept(s, 12);
    } finally {
      await oracle.dispose();
    }
  });
});
