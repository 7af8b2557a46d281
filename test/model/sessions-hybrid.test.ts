/**
 * Sessions on the tiny Qwen3.5 hybrid (KV + recurrent state): every operation keeps its meaning (logits equal
 * a fresh prefill of the same tokens within 1e-3) and its cost (forwarded positions counted), through the
 * state checkpoints: append, generate + tool result, fork, rollback, edit, spill/restore, close/reopen, budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import { SessionStore, type StoreOptions } from '../../sessions/store.js';
import type { MessageEncoder, Session } from '../../sessions/session.js';
import { freshLogits, loadPresetEngine, maxAbsDiff } from '../support/session-engine.js';

let engine: Engine | undefined;
let stateBytes = 0;
beforeAll(async () => {
  // A missing model or engine fails the tests with its reason.
  engine = (await loadPresetEngine('tiny-hybrid', { maxBatchTokens: 256 })).engine;
  const probe = engine.createSlot(1);
  stateBytes = probe.stateBytes;
  probe.dispose();
});
afterAll(() => engine?.dispose());

const tmp = () => mkdtempSync(join(tmpdir(), 'resident-hybrid-'));
const open = (o: Partial<StoreOptions> = {}) => SessionStore.open({ engine: engine!, dataDir: tmp(), snapshotEvery: 0, ...o });
const encode: MessageEncoder = (msg) => [151644, ...Array.from(Buffer.from(`${msg.role}:${String(msg.content)}`)).map((b) => b + 300), 151645];
const forwarded = () => engine!.counters().tokensProcessed;

async function expectFresh(s: Session, what: string): Promise<void> {
  expect(maxAbsDiff(await s.logits(), await freshLogits(engine!, s.tokens)), `${what}: max |Δlogit|`).toBeLessThan(1e-3);
}

async function conversation(s: Session, n: number, tag = 'm'): Promise<void> {
  for (let i = 0; i < n; i++) await s.appendMessage({ role: i % 2 ? 'assistant' : 'user', content: `${tag}${i} ${'x'.repeat(3 + i)}` }, encode);
}

describe('sessions on the tiny hybrid', () => {
  it('append A then B = a fresh prefill of A+B; appends and a tool result forward only the new tokens', async () => {
    expect(stateBytes).toBeGreaterThan(0);
    const store = await open();
    const s = await store.create();
    await conversation(s, 3);
    const tool = encode({ role: 'tool', content: '{"ok":true}' }, 3) as number[];
    let before = forwarded();
    await s.appendTokens(tool, { message: { role: 'tool', content: '{"ok":true}' } });
    expect(forwarded() - before).toBe(tool.length);
    await expectFresh(s, 'append A then B');
    const g = await s.generate({ maxTokens: 6, stopTokens: [] });
    before = forwarded();
    const r = await s.appendMessage({ role: 'tool', content: 'result 42' }, encode);
    // The last generated token (never fed) and the tool result: nothing else.
    expect(forwarded() - before).toBe(1 + s.info().messages[r]!.end - s.info().messages[r]!.start);
    expect(g.tokens.length).toBe(6);
    await expectFresh(s, 'generate then tool result');
    const info = s.info();
    expect(info.checkpoints.count).toBeGreaterThanOrEqual(info.messages.length);
    expect(info.checkpoints.bytes).toBe(info.checkpoints.count * stateBytes);
    for (const m of info.messages) expect(info.checkpoints.positions).toContain(m.start === 0 ? m.end : m.start);
    expect(store.memory().checkpointBytes).toBe(info.checkpoints.bytes);
    await store.close();
  });

  it('fork then continue = the original continued; a fork at a message boundary recomputes nothing before it', async () => {
    const store = await open();
    const s = await store.create();
    await conversation(s, 4);
    const whole = await store.fork(s.id);
    const at = s.info().messages[2]!.start;
    const mid = await store.fork(s.id, { at });
    const more = encode({ role: 'user', content: 'and then?' }, 4) as number[];
    await s.appendTokens(more);
    let before = forwarded();
    await whole.appendTokens(more);
    expect(forwarded() - before).toBe(more.length);
    expect([...whole.tokens]).toEqual([...s.tokens]);
    await expectFresh(whole, 'fork (whole) then continue');
    await expectFresh(s, 'parent after the fork');
    before = forwarded();
    await mid.appendTokens(more);
    expect(forwarded() - before).toBe(more.length);
    await expectFresh(mid, 'fork at a message boundary then continue');
    await store.close();
  });

  it('rollbackToMessage(k) then append = a fresh session of messages 0..k-1 plus the append, forwarding only the gap', async () => {
    const store = await open();
    const s = await store.create();
    await conversation(s, 6);
    const k = 3;
    const startK = s.info().messages[k]!.start;
    await s.rollbackToMessage(k);
    expect(s.tokens.length).toBe(startK);
    const before = forwarded();
    const idx = await s.appendMessage({ role: 'user', content: 'instead' }, encode);
    const m = s.info().messages[idx]!;
    expect(forwarded() - before).toBe(m.end - m.start); // k's checkpoint is at k's start: no gap
    const ref = await store.create();
    await conversation(ref, k);
    await ref.appendMessage({ role: 'user', content: 'instead' }, encode);
    expect([...s.tokens]).toEqual([...ref.tokens]);
    await expectFresh(s, 'rollback then append');
    // A cut inside a message: at most the tokens between the nearest checkpoint and the cut are recomputed.
    const t = m.start + 3;
    const c = Math.max(...s.info().checkpoints.positions.filter((p) => p <= t));
    await s.truncate(t);
    const b2 = forwarded();
    await s.appendTokens([500, 501]);
    expect(forwarded() - b2).toBe(t - c + 2);
    await expectFresh(s, 'truncate mid-message then append');
    await s.editMessage(1, { role: 'assistant', content: 'edited' }, encode);
    await expectFresh(s, 'edit message 1');
    await store.close();
  });

  it('spill + restore = before; close and reopen = before (state restored from its checkpoint files)', async () => {
    const dataDir = tmp();
    let store = await open({ dataDir });
    const s = await store.create();
    await conversation(s, 3);
    await s.generate({ maxTokens: 4, stopTokens: [] });
    await s.appendMessage({ role: 'tool', content: 'r' }, encode);
    const want = await s.logits();
    await store.spill(s.id);
    expect(s.info().resident).toBe(false);
    let before = forwarded();
    const more = [600, 601, 602];
    expect(maxAbsDiff(await s.logits(), want)).toBeLessThan(1e-3);
    expect(s.info().counters.restored).toBeGreaterThan(0);
    expect(forwarded() - before).toBeLessThan(s.tokens.length); // KV and state restored, not recomputed
    await s.appendTokens(more);
    await expectFresh(s, 'spill + restore then append');
    const tokens = [...s.tokens];
    const id = s.id;
    await store.close();
    expect(readdirSync(join(dataDir, 'sessions', id, 'kv')).some((n) => n.endsWith('.rst'))).toBe(true);
    store = await open({ dataDir });
    const r = store.get(id);
    expect([...r.tokens]).toEqual(tokens);
    expect(r.info().checkpoints.count).toBeGreaterThan(0);
    before = forwarded();
    await r.appendTokens([700, 701]);
    expect(forwarded() - before).toBe(2); // segments up to the end and the state at the end: only the new tokens
    expect(r.info().counters.restored).toBe(tokens.length);
    await expectFresh(r, 'close, reopen, append');
    await store.close();
  });

  it('checkpoint bytes stay within a small budget; the fork point and the latest are kept', async () => {
    const budget = 3 * stateBytes;
    const dataDir = tmp();
    let store = await open({ dataDir, checkpointBudgetBytes: budget });
    let s = await store.create();
    await conversation(s, 3);
    const at = s.tokens.length;
    let child = await store.fork(s.id, { at });
    await conversation(s, 8, 'p');
    const info = s.info();
    expect(info.checkpoints.budgetBytes).toBe(budget);
    expect(info.checkpoints.bytes).toBeLessThanOrEqual(budget);
    expect(info.checkpoints.positions).toContain(at);
    expect(info.checkpoints.positions).toContain(s.tokens.length);
    expect(info.checkpoints.evicted).toBeGreaterThan(0);
    // Across a restart: the files of the kept checkpoints, the fork point pinned again.
    await store.close();
    store = await open({ dataDir, checkpointBudgetBytes: budget });
    s = store.get(s.id);
    child = store.get(child.id);
    await conversation(s, 4, 'q');
    expect(s.info().checkpoints.evicted).toBeGreaterThan(0);
    expect(s.info().checkpoints.positions).toContain(at);
    expect(s.info().checkpoints.bytes).toBeLessThanOrEqual(budget);
    // The parent rolls back to its fork point: restored from the kept checkpoint, nothing recomputed.
    await s.truncate(at);
    const before = forwarded();
    await s.appendTokens([800, 801]);
    expect(forwarded() - before).toBe(2);
    await expectFresh(s, 'parent back at its fork point');
    await child.appendTokens([900]);
    await expectFresh(child, 'child after the parent moved on');
    const mem = store.memory();
    expect(mem.stateBytes).toBe(stateBytes);
    expect(mem.checkpointBytes).toBe(s.info().checkpoints.bytes + child.info().checkpoints.bytes);
    await store.close();
  });

  it('batched decode of several hybrid sessions = each alone', async () => {
    const store = await open();
    const ss: Session[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await store.create();
      await conversation(s, 2 + (i % 2), `b${i}`);
      ss.push(s);
    }
    const alone: number[][] = [];
    for (const s of ss) {
      const f = await store.fork(s.id);
      alone.push((await f.generate({ maxTokens: 8, stopTokens: [] })).tokens);
    }
    const steps = store.scheduler.stats().steps;
    const together = await Promise.all(ss.map((s) => s.generate({ maxTokens: 8, stopTokens: [] })));
    expect(together.map((r) => r.tokens)).toEqual(alone);
    expect(store.scheduler.stats().steps - steps).toBeLessThan(4 * 8); // decode steps were shared
    for (const s of ss) await expectFresh(s, 'after batched decode');
    await store.close();
  });
});
