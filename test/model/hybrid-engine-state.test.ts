/**
 * State handling of the native hybrid forward on `tiny-hybrid` (3 Gated DeltaNet + 1 gated-attention layers, F32):
 * logits within 1e-3 (relative to the row's largest magnitude) for prefill(A) then B = prefill(A + B); a fork
 * (copyFrom) continues like the original; truncate to k + writeState(k, checkpoint read at k) + append = a fresh
 * prefill; batched decode of 3 sessions = each alone; a stale slot is refused with its reason; every kernel level
 * the CPU runs equals portable (a level the CPU lacks is skipped); the forward allocates nothing; int8 weights load
 * and agree on the argmax with F32, as do bf16 activations on bf16 weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EntryLogits, KvSlot } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine, nativeBinding } from '../../engine/native.js';
import { ensureModel } from '../support/models.js';
import { argmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { lacksLevel } from '../support/cpu-level.js';

let spec: ModelSpec;
let engine: Engine;
let V: number;
const slots: KvSlot[] = [];

beforeAll(async () => {
  spec = await loadModelSpec((await ensureModel('tiny-hybrid', 'f32', { builtinTokenizer: true })).dir);
  engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 128 });
  V = spec.config.vocabSize;
}, 600_000);
afterAll(() => {
  for (const s of slots) s.dispose();
  engine?.dispose();
});

function slot(e: Engine = engine): KvSlot {
  const s = e.createSlot(512, 'f32');
  slots.push(s);
  return s;
}

/** Row r of a against row r of b, relative to b's largest magnitude. */
function expectClose(a: EntryLogits, b: EntryLogits, bar = 1e-3): void {
  expect(a.positions.length).toBe(b.positions.length);
  for (let r = 0; r < a.positions.length; r++) {
    const x = row(a.data, r, V), y = row(b.data, r, V);
    expect(maxAbsDiff(x, y) / maxAbs(y)).toBeLessThan(bar);
    expect(argmax(x)).toBe(argmax(y));
  }
}

async function run(s: KvSlot, tokens: number[], e: Engine = engine): Promise<EntryLogits> {
  const [out] = await e.forward([{ slot: s, tokens, logits: 'all' }]);
  return out!;
}

describe('hybrid state equivalences (tiny-hybrid, F32)', () => {
  const A = randomTokens(70, 101), B = randomTokens(30, 202);

  it('prefill(A) then B equals prefill(A + B)', async () => {
    const s1 = slot(), s2 = slot();
    await run(s1, A);
    const split = await run(s1, B);
    const whole = await run(s2, [...A, ...B]);
    const tail: EntryLogits = { positions: whole.positions.slice(A.length), data: whole.data.slice(A.length * V) } as EntryLogits;
    expectClose(split, tail);
  });

  it('a fork (copyFrom) continues like the original', async () => {
    const orig = slot(), fork = slot();
    await run(orig, A);
    await fork.copyFrom(orig, A.length);
    expect(fork.statePosition).toBe(A.length);
    const f = await run(fork, B);
    const o = await run(orig, B);
    expectClose(f, o, 1e-6);
  });

  it('truncate to k + writeState(k, checkpoint at k) + append equals a fresh prefill', async () => {
    const s = slot(), fresh = slot();
    const k = 40;
    await run(s, A.slice(0, k));
    const checkpoint = Buffer.from(await s.readState());
    await run(s, A.slice(k));
    s.truncate(k);
    expect(s.statePosition).not.toBe(k); // stale until the checkpoint is written
    await expect(run(s, B)).rejects.toThrow(/stale/);
    await s.writeState(k, checkpoint);
    expect(s.statePosition).toBe(k);
    const resumed = await run(s, B);
    await run(fresh, A.slice(0, k));
    expectClose(resumed, await run(fresh, B));
  });

  it('batched decode of 3 sessions equals each alone', async () => {
    const prompts = [randomTokens(5, 1), randomTokens(33, 2), randomTokens(64, 3)];
    const batched = prompts.map(() => slot()), solo = prompts.map(() => slot());
    await engine.forward(batched.map((s, i) => ({ slot: s, tokens: prompts[i]!, logits: 'none' as const })));
    for (let i = 0; i < 3; i++) await run(solo[i]!, prompts[i]!);
    for (let step = 0; step < 4; step++) {
      const toks = prompts.map((_, i) => randomTokens(step === 1 && i === 2 ? 4 : 1, 100 * step + i));
      const outs = await engine.forward(batched.map((s, i) => ({ slot: s, tokens: toks[i]!, logits: 'all' as const })));
      for (let i = 0; i < 3; i++) expectClose(outs[i]!, await run(solo[i]!, toks[i]!), 1e-4);
    }
  });

  it('the forward allocates nothing', async () => {
    const s = slot();
    await run(s, A);
    const before = engine.counters().forwardAllocations;
    await run(s, B);
    for (let i = 0; i < 5; i++) await run(s, [i + 7]);
    expect(engine.counters().forwardAllocations - before).toBe(0);
  });
});

describe('hybrid kernel levels and weight modes (tiny-hybrid)', () => {
  const levels = nativeBinding().kernelLevels;
  const tokens = randomTokens(90, 303);

  async function logitsWith(opts: Parameters<typeof loadEngine>[1]): Promise<EntryLogits[]> {
    const e = await loadEngine(spec, { threads: 2, maxBatchTokens: 128, ...opts });
    try {
      const s = e.createSlot(256, 'f32');
      const out = [await run(s, tokens, e)];
      for (let i = 0; i < 3; i++) out.push(await run(s, [tokens[i]!], e));
      s.dispose();
      return out;
    } finally {
      e.dispose();
    }
  }

  for (const level of ['avx512', 'avx2'] as const) {
    it.skipIf(lacksLevel(levels, level, 'the hybrid forward'))(`${level} equals portable (prefill and decode)`, async () => {
      const ref = await logitsWith({ kernels: 'portable' });
      const got = await logitsWith({ kernels: level });
      for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!, 1e-4);
    });
  }

  it('int8 weights load and keep the argmax of most positions', async () => {
    const ref = await logitsWith({});
    const got = await logitsWith({ weights: 'int8' });
    let same = 0, total = 0;
    for (let i = 0; i < ref.length; i++)
      for (let r = 0; r < ref[i]!.positions.length; r++, total++) same += argmax(row(got[i]!.data, r, V)) === argmax(row(ref[i]!.data, r, V)) ? 1 : 0;
    expect(same / total).toBeGreaterThan(0.8);
  });

  it('bf16 weights with bf16 activations load and agree with f32 activations on the argmax of most positions', async () => {
    const bf16 = await loadModelSpec((await ensureModel('tiny-hybrid', 'bf16', { builtinTokenizer: true })).dir);
    const outs: EntryLogits[] = [];
    for (const activations of ['f32', 'bf16'] as const) {
      const e = await loadEngine(bf16, { threads: 2, maxBatchTokens: 128, activations });
      const s = e.createSlot(256, 'bf16');
      outs.push(await run(s, tokens, e));
      s.dispose();
      e.dispose();
    }
    let same = 0;
    for (let r = 0; r < tokens.length; r++) same += argmax(row(outs[0]!.data, r, V)) === argmax(row(outs[1]!.data, r, V)) ? 1 : 0;
    expect(same / tokens.length).toBeGreaterThan(0.8);
  });
});
