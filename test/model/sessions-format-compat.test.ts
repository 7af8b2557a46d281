/**
 * Sessions written by the format before state checkpoints (journal v1, .rkv v1, no .rst files) still open:
 * the committed fixture test/fixtures/sessions/v1-tiny (see its README) is copied, opened, restored from
 * its segment without recomputation and continued; logits equal a fresh prefill.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../engine/engine-api.js';
import { SessionStore } from '../../sessions/store.js';
import { freshLogits, loadPresetEngine, maxAbsDiff } from '../support/session-engine.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/sessions/v1-tiny', import.meta.url));
const ID = '01M964NNZ0J8BNJ49Y96HSRM61';
const TOKENS = [151644, 417, 415, 401, 414, 358, 404, 405, 332, 416, 404, 401, 414, 401, 151645, 151644, 397, 415, 415, 405, 415, 416, 397, 410, 416, 358, 404, 401, 408, 408, 411, 151645, 139941, 119269, 80355];

let engine: Engine | undefined;
beforeAll(async () => {
  // A missing model or engine fails the tests with its reason.
  engine = (await loadPresetEngine('tiny')).engine;
});
afterAll(() => engine?.dispose());

describe('session format compatibility', () => {
  it('opens a v1 session folder (no state files) and continues it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-compat-'));
    cpSync(FIXTURE, dataDir, { recursive: true });
    const warnings: string[] = [];
    const store = await SessionStore.open({ engine: engine!, dataDir, snapshotEvery: 0, onWarning: (m) => warnings.push(m) });
    expect([...store.damaged.keys()]).toEqual([]);
    const s = store.get(ID);
    expect([...s.tokens]).toEqual(TOKENS);
    expect(s.info().messages.map((m) => [m.role, m.start, m.end])).toEqual([['user', 0, 15], ['assistant', 15, 32]]);
    expect(s.info().snapshotCovered).toBe(34);
    const forwarded = engine!.counters().tokensProcessed;
    await s.appendTokens([151644, 500, 501, 151645]);
    // Restored [0, 34) from the segment: only the unfed last token and the 4 new ones ran.
    expect(engine!.counters().tokensProcessed - forwarded).toBe(5);
    expect(s.info().counters.restored).toBe(34);
    expect(maxAbsDiff(await s.logits(), await freshLogits(engine!, s.tokens))).toBeLessThan(1e-3);
    expect(s.info().checkpoints).toMatchObject({ count: 0, bytes: 0 }); // no recurrent state: no checkpoints
    await s.rollbackToMessage(1);
    expect(s.tokens.length).toBe(15);
    await store.close();
    expect(warnings).toEqual([]);
  });
});
