/**
 * Background snapshots wait for a quiet session: a turn that appends past `snapshotEvery` and goes on
 * (another append, a generation) is not held up by writing its KV to disk; the snapshot follows once the
 * session is idle, and a backlog of 8 × snapshotEvery positions is snapshotted at once. When the slots are
 * nearly full, the least recently used idle sessions are snapshotted ahead, so the admission that evicts one
 * writes nothing while the new session waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import { SessionStore } from '../../sessions/store.js';
import { loadPresetEngine } from '../support/session-engine.js';

let engine: Engine;
beforeAll(async () => {
  ({ engine } = await loadPresetEngine('tiny'));
});
afterAll(() => engine?.dispose());

const segments = (dir: string, id: string) => readdirSync(join(dir, 'sessions', id, 'kv')).filter((n) => !n.endsWith('.tmp')).length;
const toks = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 31 + seed) % 5000));

describe('background snapshots', () => {
  it('wait until the session is idle, then cover it; a large backlog is snapshotted at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resident-snapidle-'));
    const store = await SessionStore.open({ engine, dataDir: dir, snapshotEvery: 64 });
    const s = await store.create();
    await s.appendTokens(toks(100, 1)); // past snapshotEvery: a snapshot is due
    await s.appendTokens(toks(20, 2)); // the turn goes on at once
    await s.generate({ maxTokens: 4, stopTokens: [] });
    expect(segments(dir, s.id)).toBe(0); // nothing written while the turn ran
    await new Promise((r) => setTimeout(r, 1000));
    expect(segments(dir, s.id)).toBeGreaterThan(0);
    expect(s.covered).toBe(s.tokens.length - 1); // every position in the slot (all but the last sampled token)

    const t = await store.create();
    await t.appendTokens(toks(8 * 64 + 10, 3)); // 8 × snapshotEvery behind: no waiting for idle
    await t.generate({ maxTokens: 4, stopTokens: [] });
    expect(segments(dir, t.id)).toBeGreaterThan(0); // written before the generation (queued first in the session's lane)
    await store.close();
  }, 120_000);

  it('snapshot the next victims ahead when the slots are nearly full: an eviction then writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resident-snapahead-'));
    const store = await SessionStore.open({ engine, dataDir: dir, snapshotEvery: 0, maxResidentSlots: 4 });
    const sessions = [];
    for (let k = 0; k < 4; k++) {
      const s = await store.create();
      await s.appendTokens(toks(40, k));
      sessions.push(s);
    }
    for (let i = 0; i < 100 && sessions.slice(0, 2).some((s) => s.covered === 0); i++) await new Promise((r) => setTimeout(r, 50));
    // 4 of 4 slots taken: the two least recently used are on disk, the others not (snapshotEvery 0: no cadence)
    expect(sessions.map((s) => segments(dir, s.id))).toEqual([1, 1, 0, 0]);
    expect(sessions.map((s) => s.covered)).toEqual([40, 40, 0, 0]);

    const t0 = performance.now();
    const fifth = await store.create();
    await fifth.appendTokens(toks(40, 9));
    const admitMs = performance.now() - t0;
    expect(sessions[0]!.slot).toBeNull(); // the LRU one was evicted, with the segment written ahead
    expect(segments(dir, sessions[0]!.id)).toBe(1);
    expect(sessions.slice(1).every((s) => s.slot !== null)).toBe(true);
    console.log(`admission with an eviction snapshotted ahead: ${admitMs.toFixed(1)} ms`);
    // the restored session reads its K/V back instead of recomputing it
    const r = await store.get(sessions[0]!.id).generate({ maxTokens: 1, stopTokens: [] });
    expect(r.tokens.length).toBe(1);
    expect(sessions[0]!.counters.restored).toBe(40);
    await store.close();
  }, 120_000);
});
