/**
 * Validates the two oracles against each other before the native engine exists: llama.cpp (on our GGUF)
 * and the float64 reference forward (on our safetensors) must give the same next-token distributions
 * on the tiny F32 model, for prompts of 1, 7, 100 and ~600 tokens and after appends to a live context.
 * The text prompts are Qwen3's chat template (the project's copy) in the tiny model's own tokenizer.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { LlamaOracle, type PositionDist } from '../support/llama-oracle.js';
import { ensureModel } from '../support/models.js';
import { loadReference, referenceForward, topK, type ReferenceModel } from '../support/reference-forward.js';
import { QWEN3_CHAT_TEMPLATE } from '../../engine/tokens/qwen3-chat-template.js';

/** Comparison totals over a set of positions. */
interface Stats {
  positions: number;
  top1Agree: number;
  maxAbsDiff: number;
}

function compare(ll: PositionDist[], refPositions: number[], refRows: Float64Array[], stats: Stats): void {
  const byPos = new Map(refPositions.map((p, i) => [p, refRows[i]!]));
  for (const d of ll) {
    const row = byPos.get(d.pos);
    expect(row, `reference has position ${d.pos}`).toBeDefined();
    stats.positions++;
    if (topK(row!, 1)[0]!.id === d.top[0]!.id) stats.top1Agree++;
    for (const e of d.top) stats.maxAbsDiff = Math.max(stats.maxAbsDiff, Math.abs(e.logprob - row![e.id]!));
  }
}

/** Positions 0..first-1, every `step`-th after that, and the last `last` of n (each llama.cpp position costs a vocabulary sort). */
function spread(n: number, first: number, step: number, last: number): number[] {
  const out = new Set<number>();
  for (let i = 0; i < Math.min(first, n); i++) out.add(i);
  for (let i = first; i < n; i += step) out.add(i);
  for (let i = Math.max(0, n - last); i < n; i++) out.add(i);
  return [...out].sort((a, b) => a - b);
}

describe('oracle self-check: llama.cpp vs float64 reference (tiny, F32)', () => {
  let gguf: string;
  let ref: ReferenceModel;
  let text: number[];
  const total: Stats = { positions: 0, top1Agree: 0, maxAbsDiff: 0 };

  beforeAll(async () => {
    const m = await ensureModel('tiny', 'f32', { gguf: true });
    gguf = m.gguf!;
    ref = await loadReference(m.dir);
    const json = (f: string) => JSON.parse(readFileSync(join(m.dir, f), 'utf8'));
    text = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json')).encode(QWEN3_CHAT_TEMPLATE).ids;
    expect(text.length).toBeGreaterThan(600);
  });

  /** Checks a fresh context over `tokens` at `positions` (default all). */
  async function check(tokens: number[], positions?: number[]): Promise<Stats> {
    const oracle = await LlamaOracle.open(gguf, { contextSize: 1024 });
    try {
      const ll = await oracle.evaluate(tokens, { positions });
      expect(ll.length).toBe(positions?.length ?? tokens.length);
      const r = referenceForward(ref, tokens, { logitPositions: positions });
      const s: Stats = { positions: 0, top1Agree: 0, maxAbsDiff: 0 };
      compare(ll, r.positions, r.logprobs, s);
      return s;
    } finally {
      await oracle.dispose();
    }
  }

  function accept(s: Stats): void {
    total.positions += s.positions;
    total.top1Agree += s.top1Agree;
    total.maxAbsDiff = Math.max(total.maxAbsDiff, s.maxAbsDiff);
    expect(s.top1Agree / s.positions).toBeGreaterThanOrEqual(0.99);
    expect(s.maxAbsDiff).toBeLessThanOrEqual(3e-3); // measured 7.3e-4 (llama.cpp F32 KV vs the float64 forward); was 2e-2
  }

  it('agrees on a 1-token prompt', async () => accept(await check([text[0]!])));

  it('agrees on a 7-token prompt of random ids', async () => {
    const ids = [151642, 0, 98765, 4242, 123456, 77, 31337];
    accept(await check(ids));
  });

  it('agrees on a 100-token prompt (the first 16 positions, every 6th, the last 4)', async () => {
    accept(await check(text.slice(0, 100), spread(100, 16, 6, 4)));
  });

  it('agrees on a ~600-token prompt (every 40th position and the last 4)', async () => {
    accept(await check(text.slice(0, 600), spread(600, 1, 40, 4)));
  });

  it('agrees after appending to a live context', async () => {
    const all = text.slice(200, 290);
    const oracle = await LlamaOracle.open(gguf, { contextSize: 256 });
    try {
      const a = await oracle.evaluate(all.slice(0, 50), { positions: [49] });
      const b = await oracle.evaluate(all.slice(50, 80), { positions: [50, 51, 60, 70, 78, 79] }); // a chunk
      const c = await oracle.evaluate([all[80]!]); // single-token decode steps
      const d = await oracle.evaluate([all[81]!]);
      const e = await oracle.evaluate(all.slice(82, 90), { positions: [82, 89] });
      expect(oracle.length).toBe(90);
      const ll = [...a, ...b, ...c, ...d, ...e];
      const r = referenceForward(ref, all, { logitPositions: ll.map((x) => x.pos) });
      const s: Stats = { positions: 0, top1Agree: 0, maxAbsDiff: 0 };
      compare(ll, r.positions, r.logprobs, s);
      expect(s.positions).toBe(11);
      accept(s);
    } finally {
      await oracle.dispose();
    }
  });

  it.each(['tiny-untied', 'tiny-moe'])('agrees on %s (F32, 12 tokens)', async (preset) => {
    const m = await ensureModel(preset, 'f32', { gguf: true });
    const other = await loadReference(m.dir);
    const tokens = text.slice(300, 312);
    const oracle = await LlamaOracle.open(m.gguf!, { contextSize: 256 });
    try {
      const ll = await oracle.evaluate(tokens);
      const r = referenceForward(other, tokens);
      const s: Stats = { positions: 0, top1Agree: 0, maxAbsDiff: 0 };
      compare(ll, r.positions, r.logprobs, s);
      expect(s.positions).toBe(12);
      accept(s);
    } finally {
      await oracle.dispose();
    }
  });

  it('the model is peaked and its attention is far from uniform (reference forward)', () => {
    const tokens = text.slice(0, 40);
    const r = referenceForward(ref, tokens, { captureAttention: true });
    const top1 = r.logprobs.map((row) => Math.exp(topK(row, 1)[0]!.logprob));
    const meanTop1 = top1.reduce((a, b) => a + b, 0) / top1.length;
    let h = 0;
    let hUniform = 0;
    for (const layer of r.attention!) for (const head of layer) for (let q = 8; q < head.length; q++) {
      for (const w of head[q]!) if (w > 0) h -= w * Math.log(w);
      hUniform += Math.log(q + 1);
    }
    console.log(`oracle-self-check: mean top-1 p ${meanTop1.toFixed(3)}, attention entropy ${(h / hUniform).toFixed(3)} × uniform; ` +
      `llama.cpp vs reference so far: ${total.top1Agree}/${total.positions} top-1 agree, max |Δ logprob| ${total.maxAbsDiff.toExponential(2)}`);
    expect(meanTop1).toBeGreaterThan(0.3);
    expect(h / hUniform).toBeLessThan(0.75);
    // not degenerate: the prediction is not just "repeat the current token", and varies with the position
    expect(new Set(r.logprobs.map((row) => topK(row, 1)[0]!.id)).size).toBeGreaterThan(15);
  });
});
