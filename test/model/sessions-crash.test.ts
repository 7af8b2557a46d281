/**
 * Crash test: a child process runs an agent-like workload (appends, generations, rollbacks across
 * four sessions, two at a time, spilling through 2 slots and snapshotting often); it is killed with
 * SIGKILL at random moments (some while a snapshot file is being written). After each kill the store
 * is reopened here: every acknowledged token must be there, and next-token logits must equal a fresh
 * prefill of the recovered tokens. Runs on `tiny` (Qwen3, KV only) and on `tiny-hybrid` (Qwen3.5: KV plus the
 * recurrent state, restored from its checkpoints), each with the journal durability `strict` (fdatasync before
 * acknowledging) and `batched` (written before acknowledging, synced every 20 ms): a process kill loses
 * nothing acknowledged in either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../engine/engine-api.js';
import { SessionStore } from '../../sessions/store.js';
import { prefixHash } from '../../sessions/checksum.js';
import { freshLogits, loadPresetEngine, maxAbsDiff } from '../support/session-engine.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KILLS = 20;


/** The child's workload (ESM JavaScript run through tsx). Prints ACK/TRUNC lines synchronously. */
const WORKLOAD = `
import { writeSync } from 'node:fs';
import { SessionStore } from '${ROOT}sessions/store.ts';
import { prefixHash } from '${ROOT}sessions/checksum.ts';
import { loadModelSpec } from '${ROOT}engine/model/hf-model.ts';
import { loadEngine } from '${ROOT}engine/native.ts';
const say = (l) => writeSync(1, l + '\\n');
let seed = Number(process.env.RS_SEED);
const rng = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
const rand = (n) => Array.from({ length: n }, () => (rng() % 150000) + 10);
const engine = await loadEngine(await loadModelSpec(process.env.RS_MODEL), { threads: 2 });
const store = await SessionStore.open({ engine, dataDir: process.env.RS_DATA, maxResidentSlots: 2, snapshotEvery: 48, snapshotChunkBytes: 32 * 2048, durability: { mode: process.env.RS_DURABILITY, windowMs: 20 } });
const ack = (s) => say('ACK ' + s.id + ' ' + s.tokens.length + ' ' + prefixHash(s.tokens, s.tokens.length));
const ids = store.list().map((s) => s.id);
while (ids.length < 4) { const s = await store.create({ tokens: rand(20) }); ids.push(s.id); ack(s); }
say('READY');
async function worker(mine) {
  for (;;) {
    const s = store.get(mine[rng() % mine.length]);
    const r = rng();
    if (s.tokens.length > 600) {
      const m = 50 + (r % 200);
      say('TRUNC ' + s.id + ' ' + m + ' ' + prefixHash(s.tokens, m));
      await s.truncate(m);
      ack(s);
    } else if (r % 3 === 0) {
      await s.generate({ maxTokens: 2 + (r % 10), stopTokens: [], onToken: () => ack(s) });
    } else {
      await s.appendTokens(rand(5 + (r % 100)));
      ack(s);
    }
  }
}
await Promise.all([worker(ids.slice(0, 2)), worker(ids.slice(2, 4))]);
`;

function snapshotTempExists(dataDir: string): boolean {
  const root = join(dataDir, 'sessions');
  if (!existsSync(root)) return false;
  for (const id of readdirSync(root)) {
    const kv = join(root, id, 'kv');
    if (existsSync(kv) && readdirSync(kv).some((n) => n.endsWith('.tmp'))) return true;
  }
  return false;
}

interface Expect {
  n: number;
  hash: string;
  trunc?: { m: number; hash: string };
}

/** Runs the child until killed; returns its output lines and whether a snapshot write was in progress. */
async function runAndKill(modelDir: string, dataDir: string, seed: number, mode: 'random' | 'snapshot', durability: string): Promise<{ lines: string[]; duringSnapshot: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WORKLOAD], {
    cwd: ROOT,
    env: { ...process.env, RS_SEED: String(seed), RS_MODEL: modelDir, RS_DATA: dataDir, RS_DURABILITY: durability },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('READY')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`workload died before READY:\n${err}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  let duringSnapshot = false;
  if (mode === 'snapshot') {
    const until = Date.now() + 4000;
    while (Date.now() < until && !(duringSnapshot = snapshotTempExists(dataDir))) await new Promise((r) => setImmediate(r));
  } else {
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 900)));
  }
  child.kill('SIGKILL');
  await exited;
  duringSnapshot ||= snapshotTempExists(dataDir);
  if (child.signalCode !== 'SIGKILL') throw new Error(`workload exited on its own (${child.exitCode}):\n${err}`);
  return { lines: out.split('\n').filter(Boolean), duringSnapshot };
}

describe.each([
  ['tiny', 'strict'],
  ['tiny', 'batched'],
  ['tiny-hybrid', 'strict'],
  ['tiny-hybrid', 'batched'],
])('crash safety under SIGKILL (%s, durability %s)', (preset, durability) => {
  let engine: Engine | undefined;
  let modelDir = '';
  beforeAll(async () => {
    // A missing model or engine fails the tests with its reason.
    ({ engine, dir: modelDir } = await loadPresetEngine(preset));
  });
  afterAll(() => engine?.dispose());

  it(`keeps every acknowledged token and correct KV across ${KILLS} kills`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-crash-'));
    const expects = new Map<string, Expect>();
    let snapshotKills = 0;
    let checkedTokens = 0;
    let restoredTokens = 0;
    for (let k = 0; k < KILLS; k++) {
      const { lines, duringSnapshot } = await runAndKill(modelDir, dataDir, 1000 + k, k % 3 === 2 ? 'snapshot' : 'random', durability);
      if (duringSnapshot) snapshotKills++;
      for (const l of lines) {
        const [kind, id, a, b] = l.split(' ');
        if (kind === 'ACK') expects.set(id!, { n: Number(a), hash: b! });
        else if (kind === 'TRUNC') expects.get(id!)!.trunc = { m: Number(a), hash: b! };
      }
      const store = await SessionStore.open({ engine: engine!, dataDir, maxResidentSlots: 2, snapshotEvery: 0 });
      expect([...store.damaged.values()]).toEqual([]);
      for (const [id, e] of expects) {
        const s = store.get(id);
        const R = s.tokens;
        const acked = R.length >= e.n && prefixHash(R, e.n) === e.hash;
        const truncated = e.trunc && R.length === e.trunc.m && prefixHash(R, e.trunc.m) === e.trunc.hash;
        expect(acked || truncated, `session ${id} after kill ${k}: ${R.length} tokens, acked ${e.n}`).toBe(true);
        if (!acked) e.trunc = undefined;
        const got = await s.logits();
        restoredTokens += s.info().counters.restored;
        expect(maxAbsDiff(got, await freshLogits(engine!, R)), `logits of ${id} after kill ${k}`).toBeLessThan(1e-3);
        checkedTokens += R.length;
        e.n = R.length;
        e.hash = prefixHash(R, R.length);
      }
      await store.close({ snapshot: false });
    }
    console.log(`crash test (${preset}, ${durability}): ${KILLS} kills (${snapshotKills} during a snapshot write), ${checkedTokens} tokens checked, ${restoredTokens} restored from snapshots`);
    expect(expects.size).toBe(4);
    expect(snapshotKills).toBeGreaterThanOrEqual(1);
    expect(restoredTokens).toBeGreaterThan(0);
  }, 300_000);
});
