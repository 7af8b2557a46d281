import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { NgramDrafter, speculativeGreedy } from '../../engine/decode/speculative.js';
import { ensureModel } from '../support/models.js';
import { argmax, randomTokens } from '../support/numeric.js';

let engine: Engine;
beforeAll(async () => {
  const m = await ensureModel('tiny', 'f32');
  engine = await loadEngine(await loadModelSpec(m.dir), { threads: 2 });
});
afterAll(() => engine?.dispose());

async function plainGreedy(prompt: number[], n: number): Promise<number[]> {
  const slot = engine.createSlot(1024);
  let [out] = await engine.forward([{ slot, tokens: prompt }]);
  const gen: number[] = [];
  for (let i = 0; i < n; i++) {
    gen.push(argmax(out!.data));
    if (i + 1 < n) [out] = await engine.forward([{ slot, tokens: [gen[i]!] }]);
  }
  expect(slot.length).toBe(prompt.length + n - 1);
  slot.dispose();
  return gen;
}

describe('n-gram drafter', () => {
  it('proposes what followed the latest earlier occurrence of the current suffix', () => {
    const d = new NgramDrafter(2, 3);
    d.push([1, 2, 3, 4, 5, 9, 1, 2, 3]);
    expect(d.propose(3)).toEqual([4, 5, 9]);
    d.push([7]);
    expect(d.propose(3)).toEqual([]); // "3 7" never occurred before
    d.truncate(8); // … 1, 2
    expect(d.propose(2)).toEqual([3, 4]);
  });
});

describe('speculative greedy decoding', () => {
  for (const [name, prompt] of [
    ['a repetitive prompt', [...randomTokens(20, 5), ...randomTokens(20, 5), ...randomTokens(20, 5)]],
    ['a random prompt', randomTokens(30, 9)],
  ] as const) {
    it(`yields exactly the plain greedy tokens, with fewer forward passes when drafts hit (${name})`, async () => {
      const n = 40;
      const expected = await plainGreedy([...prompt], n);
      const slot = engine.createSlot(1024);
      const [first] = await engine.forward([{ slot, tokens: prompt }]);
      const drafter = new NgramDrafter();
      drafter.push(prompt);
      const { tokens, stats } = await speculativeGreedy(engine, slot, argmax(first!.data), { maxTokens: n, drafter });
      expect(tokens).toEqual(expected);
      expect(slot.length).toBe(prompt.length + n - 1);
      expect(drafter.length).toBe(slot.length);
      expect(stats.steps + stats.accepted).toBe(n - 1);
      console.log(`speculative (${name}): ${stats.steps} forwards for ${n - 1} fed tokens, ${stats.accepted}/${stats.proposed} drafts accepted`);
      slot.dispose();
    });
  }

  it('stops at a stop token without feeding it', async () => {
    const prompt = randomTokens(30, 9);
    const expected = await plainGreedy(prompt, 40);
    const stopAt = expected.findIndex((t, i) => i > 3 && expected.indexOf(t) === i);
    const stop = expected[stopAt]!;
    const slot = engine.createSlot(1024);
    const [first] = await engine.forward([{ slot, tokens: prompt }]);
    const drafter = new NgramDrafter();
    drafter.push(prompt);
    const { tokens } = await speculativeGreedy(engine, slot, argmax(first!.data), { maxTokens: 40, drafter, stopTokens: new Set([stop]) });
    expect(tokens).toEqual(expected.slice(0, stopAt + 1));
    expect(slot.length).toBe(prompt.length + stopAt);
    slot.dispose();
  });
});
