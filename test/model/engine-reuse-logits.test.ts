/**
 * forward's `reuseLogits` (the scheduler's step loop): logits land in one engine-owned buffer reused from step to
 * step (no rows × vocab allocation per step), with the same values as a forward that allocates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine-api.js';
import { loadPresetEngine } from '../support/session-engine.js';

let engine: Engine;
beforeAll(async () => {
  ({ engine } = await loadPresetEngine('tiny'));
});
afterAll(() => engine?.dispose());

describe('forward with reuseLogits', () => {
  it('reuses one buffer across steps and computes the same logits', async () => {
    const a = [engine.createSlot(64), engine.createSlot(64)];
    const b = [engine.createSlot(64), engine.createSlot(64)];
    const prompt = [[11, 12, 13, 14], [21, 22]];
    const fresh = await engine.forward(b.map((slot, i) => ({ slot, tokens: prompt[i]! })));
    const reused = await engine.forward(a.map((slot, i) => ({ slot, tokens: prompt[i]! })), { reuseLogits: true });
    for (let i = 0; i < 2; i++) expect(Array.from(reused[i]!.data)).toEqual(Array.from(fresh[i]!.data));
    const buffer = reused[0]!.data.buffer;
    const fresh2 = await engine.forward(b.map((slot) => ({ slot, tokens: [30] })));
    const step2 = await engine.forward(a.map((slot) => ({ slot, tokens: [30] })), { reuseLogits: true });
    expect(step2[0]!.data.buffer).toBe(buffer);
    expect(step2[1]!.data.buffer).toBe(buffer);
    for (let i = 0; i < 2; i++) expect(Array.from(step2[i]!.data)).toEqual(Array.from(fresh2[i]!.data));
    expect(fresh2[0]!.data.buffer).not.toBe(fresh[0]!.data.buffer); // without the option each call allocates
    for (const s of [...a, ...b]) s.dispose();
  });
});
