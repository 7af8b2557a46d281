/** Sessions on the real engine (tiny model): append-only cost, equivalence, spill/restore, concurrency, corruption. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import { SessionStore } from '../../sessions/store.js';
import { JournalCorruptError, ModelMismatchError, SessionAbortedError } from '../../sessions/errors.js';
import type { MessageEncoder } from '../../sessions/session.js';
import { argmax } from '../support/numeric.js';

let engine: Engine | undefined;

beforeAll(async () => {
  // A missing model or engine fails the tests with its reason.
  const { ensureModel } = await import('../support/models.js');
  const { loadModelSpec } = await import('../../engine/model/hf-model.js');
  const { loadEngine } = await import('../../engine/native.js');
  const m = await ensureModel('tiny', 'f32');
  engine = await loadEngine(await loadModelSpec(m.dir), { threads: 2, maxBatchTokens: 512 });
});
afterAll(() => engine?.dispose());

const tmp = () => mkdtempSync(join(tmpdir(), 'resident-sessions-'));
const rnd = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 150000) + 10;
const randTokens = (n: number, seed: number) => Array.from({ length: n }, rnd(seed));

/** Logits after a fresh prefill of `tokens` in a new slot. */
async function fresh(tokens: readonly number[]): Promise<Float32Array> {
  const slot = engine!.createSlot(tokens.length + 8);
  try {
    const [r] = await engine!.forward([{ slot, tokens: [...tokens] }]);
    return r!.data;
  } finally {
    slot.dispose();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const encode: MessageEncoder = (msg) => {
  const text = `${msg.role}:${String(msg.content)}`;
  return [151644, ...Array.from(Buffer.from(text)).map((b) => b + 300), 151645];
};

describe('sessions on the tiny model', () => {
  it('append-only cost: appending k tokens to N runs the engine on exactly k tokens', async () => {
    const store = await SessionStore.open({ engine: engine!, dataDir: tmp(), snapshotEvery: 0 });
    const s = await store.create({ tokens: randTokens(100, 1) });
    for (const [N, k] of [[500, 37], [1500, 5], [3000, 200]] as const) {
      await s.appendTokens(randTokens(N - s.tokens.length, N));
      const before = engine!.counters().tokensProcessed;
      const r = await s.appendTokens(randTokens(k, k));
      expect(engine!.counters().tokensProcessed - before).toBe(k);
      expect(r.prefilled).toBe(k);
    }
    expect(maxDiff(await s.logits(), await fresh(s.tokens))).toBeLessThan(1e-3);
    await store.close();
  });

  it('equivalence: appends, generations, forks, rollbacks and edits give the logits of one fresh prefill', async () => {
    const store = await SessionStore.open({ engine: engine!, dataDir: tmp(), snapshotEvery: 0 });
    const a = await store.create({ tokens: randTokens(50, 2), message: { role: 'system', content: 'sys' } });
    for (let i = 0; i < 4; i++) await a.appendMessage({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} ${'x'.repeat(i * 40)}` }, encode);
    const g = await a.generate({ maxTokens: 12, stopTokens: [] });
    expect(g.tokens.length).toBe(12);
    const b = await store.fork(a.id, { at: a.info().messages[3]!.end });
    expect(b.info().counters.reused).toBe(b.tokens.length);
    const before = engine!.counters().tokensProcessed;
    await b.appendTokens(randTokens(30, 3));
    expect(engine!.counters().tokensProcessed - before).toBe(30); // the fork's prefix was copied, not recomputed
    await a.truncate(a.tokens.length - 5);
    await a.appendTokens(randTokens(9, 4));
    const editBefore = engine!.counters().tokensProcessed;
    const startOf2 = a.info().messages[2]!.start;
    await a.editMessage(2, { role: 'user', content: 'edited' }, encode);
    const m = a.info().messages;
    expect(m.map((x) => x.content)).toEqual(['sys', 'turn 0 ', 'edited', 'turn 2 ' + 'x'.repeat(80), 'turn 3 ' + 'x'.repeat(120)]);
    expect(engine!.counters().tokensProcessed - editBefore).toBe(a.tokens.length - startOf2); // only from the edit point
    await a.rollbackToMessage(4);
    await a.generate({ maxTokens: 3, stopTokens: [] });
    const c = await store.fork(b.id);
    await c.truncate(c.tokens.length - 17);
    await c.appendTokens(randTokens(5, 6));
    for (const s of [a, b, c]) expect(maxDiff(await s.logits(), await fresh(s.tokens))).toBeLessThan(1e-3);
    await store.close();
  });

  it('spill: 2 resident slots, 10 sessions round-robin stay correct and restore from disk', async () => {
    const store = await SessionStore.open({ engine: engine!, dataDir: tmp(), maxResidentSlots: 2, snapshotEvery: 0 });
    const ss = [];
    for (let i = 0; i < 10; i++) ss.push(await store.create({ tokens: randTokens(120 + i * 10, 100 + i) }));
    for (let round = 0; round < 3; round++) {
      for (const s of ss) {
        const len = s.tokens.length;
        const before = engine!.counters().tokensProcessed;
        await s.appendTokens(randTokens(7, round * 50 + len));
        // restored from disk: only the 7 new tokens (plus the never-fed last generated token, none here) ran
        expect(engine!.counters().tokensProcessed - before).toBe(7);
        expect(store.memory().residentSessions).toBeLessThanOrEqual(2);
      }
    }
    for (const s of ss) {
      expect(s.info().counters.restored).toBeGreaterThan(0);
      expect(s.info().counters.spills).toBeGreaterThan(0);
      expect(maxDiff(await s.logits(), await fresh(s.tokens))).toBeLessThan(1e-3);
    }
    const mem = store.memory();
    expect(mem.kvBytes).toBe(mem.sessions.reduce((x, s) => x + s.residentBytes, 0));
    expect(mem.kvBytes).toBeGreaterThan(0);
    // spilled slots are recycled for the next admission (warm pages), never beyond the slot limit
    expect(mem.slotsCreated).toBeLessThanOrEqual(2);
    expect(mem.residentSessions + mem.spareSlots).toBeLessThanOrEqual(2);
    await store.close();
  });

  it('concurrency: 16 sessions generate at once, batched, same tokens as alone; cancel stops within one step', async () => {
    const store = await SessionStore.open({ engine: engine!, dataDir: tmp(), maxResidentSlots: 40, snapshotEvery: 0 });
    const ss = [];
    for (let i = 0; i < 16; i++) ss.push(await store.create({ tokens: randTokens(30 + i, 200 + i) }));
    const forks = await Promise.all(ss.map((s) => store.fork(s.id)));
    const stepsBefore = store.scheduler.stats().steps;
    const outs = await Promise.all(ss.map((s) => s.generate({ maxTokens: 20, stopTokens: [] })));
    const steps = store.scheduler.stats().steps - stepsBefore;
    expect(steps).toBeLessThanOrEqual(22); // batched: not 16 × 20
    expect(store.scheduler.stats().maxEntries).toBeGreaterThanOrEqual(16);
    for (let i = 0; i < 16; i++) {
      const alone = await forks[i]!.generate({ maxTokens: 20, stopTokens: [] });
      expect(outs[i]!.tokens).toEqual(alone.tokens);
      expect(outs[i]!.finish).toBe('length');
    }
    // cancellation
    const ac = new AbortController();
    let seen = 0;
    const others = ss.slice(1, 4).map((s) => s.generate({ maxTokens: 40, stopTokens: [] }));
    // onToken runs after each token's journal fsync, so it may lag a few fast steps behind sampling;
    // what must hold is that sampling stops within one step of the abort
    let sampledAfterAbort = 0;
    const sample = (row: Float32Array) => {
      if (ac.signal.aborted) sampledAfterAbort++;
      return argmax(row);
    };
    const p = ss[0]!.generate({ maxTokens: 1000, stopTokens: [], signal: ac.signal, sample, onToken: () => { if (++seen === 3) ac.abort(); } });
    const r = await p;
    expect(r.finish).toBe('aborted');
    expect(sampledAfterAbort).toBeLessThanOrEqual(1);
    expect(r.tokens.length).toBeLessThan(40);
    for (const o of await Promise.all(others)) expect(o.tokens.length).toBe(40);
    await expect(ss[0]!.appendTokens([5], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(SessionAbortedError);
    expect(maxDiff(await ss[0]!.logits(), await fresh(ss[0]!.tokens))).toBeLessThan(1e-3);
    await store.close();
  });

  it('durability and corruption: reopen restores; bad snapshot/journal are detected and never used', async () => {
    const dir = tmp();
    const warnings: string[] = [];
    let store = await SessionStore.open({ engine: engine!, dataDir: dir, snapshotEvery: 0, onWarning: (w) => warnings.push(w) });
    const a = await store.create({ tokens: randTokens(300, 7) });
    await a.generate({ maxTokens: 5, stopTokens: [] });
    const b = await store.create({ tokens: randTokens(200, 8) });
    const ids = [a.id, b.id];
    const otherKv = store.format.model.endsWith('kv:f32') ? 'f16' : 'f32';
    const toks = [a.tokens.slice(), b.tokens.slice()];
    await store.close(); // snapshots both
    // restore: from disk, no re-prefill beyond the unfed last token
    store = await SessionStore.open({ engine: engine!, dataDir: dir, snapshotEvery: 0 });
    const before = engine!.counters().tokensProcessed;
    const la = await store.get(ids[0]!).logits();
    expect(engine!.counters().tokensProcessed - before).toBe(1);
    expect(store.get(ids[0]!).info().counters.restored).toBe(toks[0]!.length - 1);
    expect(maxDiff(la, await fresh(toks[0]!))).toBeLessThan(1e-3);
    await store.close();
    // flip a byte in a's KV data, truncate b's snapshot
    const segA = join(dir, 'sessions', ids[0]!, 'kv', readdirSync(join(dir, 'sessions', ids[0]!, 'kv')).find((n) => n.endsWith('.rkv'))!);
    const buf = readFileSync(segA);
    buf[buf.length - 100] ^= 0x55;
    writeFileSync(segA, buf);
    const segB = join(dir, 'sessions', ids[1]!, 'kv', readdirSync(join(dir, 'sessions', ids[1]!, 'kv')).find((n) => n.endsWith('.rkv'))!);
    writeFileSync(segB, readFileSync(segB).subarray(0, 5000));
    store = await SessionStore.open({ engine: engine!, dataDir: dir, snapshotEvery: 0, onWarning: (w) => warnings.push(w) });
    for (let i = 0; i < 2; i++) {
      const s = store.get(ids[i]!);
      expect(s.tokens).toEqual(toks[i]);
      expect(maxDiff(await s.logits(), await fresh(toks[i]!))).toBeLessThan(1e-3);
    }
    expect(warnings.some((w) => w.includes('SnapshotCorruptError') && w.includes(ids[0]!) && w.includes(segA))).toBe(true);
    expect(warnings.some((w) => w.includes('SnapshotCorruptError') && w.includes(ids[1]!) && w.includes(segB))).toBe(true);
    expect(existsSync(`${segB}.bad`)).toBe(true);
    await store.close({ snapshot: false });
    // journal: torn tail is dropped; a flipped byte makes the session damaged (named error), repair keeps the prefix
    const jA = join(dir, 'sessions', ids[0]!, 'journal.rsj');
    const jb = readFileSync(jA);
    writeFileSync(jA, jb.subarray(0, jb.length - 3));
    const jB = join(dir, 'sessions', ids[1]!, 'journal.rsj');
    const bb = readFileSync(jB);
    bb[40] ^= 0x10;
    writeFileSync(jB, bb);
    store = await SessionStore.open({ engine: engine!, dataDir: dir, snapshotEvery: 0 });
    expect(store.get(ids[0]!).tokens).toEqual(toks[0]!.slice(0, -1)); // the last generated token's record was torn
    expect(store.damaged.get(ids[1]!)).toBeInstanceOf(JournalCorruptError);
    expect(store.damaged.get(ids[1]!)!.message).toContain(jB);
    expect(() => store.get(ids[1]!)).toThrow(/not found/);
    await store.close({ snapshot: false });
    // another KV dtype (i.e. another model string) is refused with a clear error
    store = await SessionStore.open({ engine: engine!, dataDir: dir, kvDtype: otherKv });
    expect(store.damaged.get(ids[0]!)).toBeInstanceOf(ModelMismatchError);
    await store.close();
  });
});
