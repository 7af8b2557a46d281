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

const FIXTURE = fileURLToPath(new URL('../fixtures/sessions/v1-tiny', import.meta.url));
const ID = '01M964NNZ0J8BNJ49Y96HSRM61';
const TOKENS = [151644, 417, 415, 401, 414, 358, 404, 405, 332, 416, 404, 401, 414, 401, 151645, 151644, 397, 415, 415, 405, 415, 416, 397, 410, 416, 358, 404, 401, 408, 408, 411, 151645, 139941, 119269, 80355];

let engine: Engine | undefined;
let skip = '';
beforeAll(async () => {
  try {
    const { ensureModel } = await import('../support/models.js');
    const { loadModelSpec } = await import('../../engine/model/hf-model.js');
    const { loadEngine } = await import('../../engine/native.js');
    engine = await loadEngine(await loadModelSpec((await ensureModel('tiny', 'f32')).dir), { threads: 2 });
  } catch (e) {
    skip = `tiny model / native engine unavailable: ${(e as Error).message}`;
  }
});
afterAll(() => engine?.dispose());

async function fresh(tokens: readonly number[]): Promise<Float32Array> {
  const slot = engine!.createSlot(tokens.length + 8);
  try {
    const [r] = await engine!.forward([{ slot, tokens: [...tokens] }]);
    return r!.data;
  } finally {
    slot.dispose();
  }
}

describe('session format compatibility', () => {
  it('opens a v1 session folder (no state files) and continues it', async (ctx) => {
    if (skip) return ctx.skip(skip);
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
    const got = await s.logits();
    const want = await fresh(s.tokens);
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
    expect(m).toBeLessThan(1e-3);
    await s.rollbackToMessage(1);
    expect(s.tokens.length).toBe(15);
    await store.close();
    expect(warnings).toEqual([]);
  });
});
