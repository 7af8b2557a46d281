/**
 * Creating a session under each durability mode (sessions/session-folder.ts). strict: the folder and its journal
 * are on stable storage when create() resolves. batched: create() does not wait for a sync; the next sync round
 * makes the journal durable (seen through the store's onSync seam), and a power cut before that round — which may
 * leave the journal empty, zeroed or with its header alone — costs the new session, never a damaged one: load
 * removes such a folder with a warning. A journal with a record and damage after the header stays damaged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import type { SyncEvent } from '../../sessions/journal-sync.js';
import { JOURNAL_HEADER_BYTES } from '../../sessions/journal-format.js';
import { SessionStore } from '../../sessions/store.js';
import { loadPresetEngine } from '../support/session-engine.js';

let engine: Engine;
beforeAll(async () => {
  ({ engine } = await loadPresetEngine('tiny'));
});
afterAll(() => engine?.dispose());

const journalOf = (dataDir: string, id: string) => join(dataDir, 'sessions', id, 'journal.rsj');

describe.each(['strict', 'batched'] as const)('creating a session, %s', (mode) => {
  it(mode === 'strict' ? 'is durable when create resolves' : 'is durable after the next sync round, not before', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-create-'));
    const syncs: SyncEvent[] = [];
    // a window no test reaches: only an explicit round syncs
    const store = await SessionStore.open({ engine, dataDir, snapshotEvery: 0, durability: { mode, windowMs: 60_000, onSync: (e) => syncs.push(e) } });
    const parent = await store.create({ tokens: [11, 12, 13, 14] });
    const child = await store.fork(parent.id, { at: 2 });
    for (const s of [parent, child]) {
      const size = statSync(journalOf(dataDir, s.id)).size;
      if (mode === 'strict') expect(s.journal.syncedBytes).toBe(size);
      else expect(s.journal.syncedBytes).toBe(0);
    }
    await store.syncer.flush();
    for (const s of [parent, child]) {
      const size = statSync(journalOf(dataDir, s.id)).size;
      expect(s.journal.syncedBytes).toBe(size);
      if (mode === 'batched') expect(syncs.some((e) => e.file === journalOf(dataDir, s.id) && e.bytes === size)).toBe(true);
    }
    await store.close({ snapshot: false });
  });
});

describe('a power cut that caught a batched creation before its sync', () => {
  it.each([
    ['an empty journal', (f: string) => truncateSync(f, 0)],
    ['a zeroed journal', (f: string) => writeFileSync(f, Buffer.alloc(statSync(f).size))],
    ['a journal with its header alone', (f: string) => truncateSync(f, JOURNAL_HEADER_BYTES)],
  ])('%s: the folder is removed with a warning, nothing is damaged', async (_what, cut) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-create-cut-'));
    const store = await SessionStore.open({ engine, dataDir, snapshotEvery: 0, durability: { mode: 'batched', windowMs: 60_000 } });
    const kept = await store.create({ tokens: [1, 2, 3] });
    await store.syncer.flush();
    const lost = await store.create({ tokens: [4, 5, 6] });
    await store.close({ snapshot: false });
    cut(journalOf(dataDir, lost.id));
    const warnings: string[] = [];
    const reopened = await SessionStore.open({ engine, dataDir, snapshotEvery: 0, onWarning: (m) => warnings.push(m) });
    expect([...reopened.damaged.keys()]).toEqual([]);
    expect(reopened.list().map((s) => s.id)).toEqual([kept.id]);
    expect(reopened.get(kept.id).tokens).toEqual([1, 2, 3]);
    expect(warnings.some((w) => w.includes(lost.id) && w.includes('holds no record'))).toBe(true);
    expect(() => statSync(join(dataDir, 'sessions', lost.id))).toThrow();
    await reopened.close({ snapshot: false });
  });

  it('a journal with records and a damaged header stays damaged (not removed)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-create-cut-'));
    const store = await SessionStore.open({ engine, dataDir, snapshotEvery: 0 });
    const s = await store.create({ tokens: [7, 8, 9] });
    await store.close({ snapshot: false });
    const f = journalOf(dataDir, s.id);
    const buf = readFileSync(f);
    buf[0] = buf[0]! ^ 0xff;
    writeFileSync(f, buf);
    const reopened = await SessionStore.open({ engine, dataDir, snapshotEvery: 0 });
    expect([...reopened.damaged.keys()]).toEqual([s.id]);
    expect(statSync(f).size).toBe(buf.length);
    await reopened.close({ snapshot: false });
  });
});
