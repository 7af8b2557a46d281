/**
 * Sessions benchmark: agent turn at depth, restore from disk vs re-prefill, fork, batched decode.
 *   npx tsx bench/sessions.ts [--model qwen3-0.6b] [--dtype bf16] [--threads 2] [--depth 8192]
 *                             [--long 16384] [--data DIR] [--json]
 * Smoke run: npx tsx bench/sessions.ts --model tiny --dtype f32 --depth 1024 --long 2048
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureModel } from '../test/support/models.js';
import { loadModelSpec } from '../engine/model/hf-model.js';
import { loadEngine } from '../engine/native.js';
import type { WeightDType } from '../engine/model/model-spec.js';
import { SessionStore } from '../sessions/store.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'qwen3-0.6b' },
    dtype: { type: 'string', default: 'bf16' },
    threads: { type: 'string', default: '2' },
    depth: { type: 'string', default: '8192' },
    long: { type: 'string', default: '16384' },
    data: { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-anchor': { type: 'boolean', default: false },
  },
});
const depth = Number(a.depth);
const long = Number(a.long);
let seed = 12345;
const rand = (n: number) => Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 150000) + 10);
const ms = (t0: number) => Number((performance.now() - t0).toFixed(1));
const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
const results: Record<string, unknown> = {};
const log = (k: string, v: unknown) => {
  results[k] = v;
  if (!a.json) console.log(`${k}: ${JSON.stringify(v)}`);
};

const model = await ensureModel(a.model!, a.dtype as WeightDType, { gguf: !a['no-anchor'] });
const engine = await loadEngine(await loadModelSpec(model.dir), { threads: Number(a.threads) });
const dataDir = a.data ?? mkdtempSync(join(tmpdir(), 'resident-bench-'));
const openStore = () => SessionStore.open({ engine, dataDir, maxResidentSlots: 16, snapshotEvery: 0, slotCapacity: long + 1024 });
let store = await openStore();
log('setup', { model: a.model, dtype: a.dtype, threads: engine.threads, kernels: engine.kernels, bytesPerToken: store.format.bytesPerToken, dataDir });

// 1. Agent turn at depth: append a 200-token tool result + generate 50, vs re-prefilling everything.
let t = performance.now();
let s = await store.create({ tokens: rand(depth) });
const prefillDepthMs = ms(t);
t = performance.now();
await s.appendTokens(rand(200));
const appendMs = ms(t);
t = performance.now();
await s.generate({ maxTokens: 50, stopTokens: [] });
const gen50Ms = ms(t);
const ref = engine.createSlot(depth + 300);
t = performance.now();
await engine.forward([{ slot: ref, tokens: s.tokens.slice(0, depth + 200) }]);
const reprefillMs = ms(t);
ref.dispose();
log('agentTurn', { depth, appendToolResultMs: appendMs, generate50Ms: gen50Ms, turnMs: appendMs + gen50Ms, reprefillMs, reprefillTurnMs: reprefillMs + gen50Ms, speedup: Number(((reprefillMs + gen50Ms) / (appendMs + gen50Ms)).toFixed(1)), initialPrefillMs: prefillDepthMs });

// 2. Restore a long session from disk vs re-prefill: warm = into the recycled slot its spill freed (LRU
//    pressure in a running server); cold = after a restart (new store, a fresh slot: pages fault in).
t = performance.now();
await s.appendTokens(rand(long - s.tokens.length));
const growMs = ms(t);
t = performance.now();
await store.spill(s.id);
const spillMs = ms(t);
const before = engine.counters().tokensProcessed;
t = performance.now();
await s.appendTokens(rand(1)); // restore (writeKv) + the unfed tail + 1 token
const restoreMs = ms(t);
const fed = engine.counters().tokensProcessed - before;
const ref2 = engine.createSlot(long + 8);
t = performance.now();
await engine.forward([{ slot: ref2, tokens: s.tokens.slice(0, long) }]);
const reprefillLongMs = ms(t);
ref2.dispose();
await store.close();
store = await openStore();
s = store.get(s.id);
t = performance.now();
await s.appendTokens(rand(1));
const coldRestoreMs = ms(t);
log('restore', {
  tokens: long, snapshotWriteMs: spillMs, restoreMs, coldRestoreMs, tokensRecomputed: fed, reprefillMs: reprefillLongMs,
  speedup: Number((reprefillLongMs / restoreMs).toFixed(1)), coldSpeedup: Number((reprefillLongMs / coldRestoreMs).toFixed(1)),
  snapshotMiB: mib(long * store.format.bytesPerToken), growMs,
});

// 3. Fork at 16k.
const rss0 = process.memoryUsage().rss;
t = performance.now();
const f = await store.fork(s.id, { at: long });
const forkMs = ms(t);
log('fork', { at: long, forkMs, childResidentMiB: mib(f.info().residentBytes), parentResidentMiB: mib(s.info().residentBytes), rssDeltaMiB: mib(process.memoryUsage().rss - rss0) });
await store.delete(f.id);
await store.spill(s.id);

// 4. Decode throughput with 1, 4, 8 sessions at once.
const tput: Record<string, unknown> = {};
for (const n of [1, 4, 8]) {
  const ss = await Promise.all(Array.from({ length: n }, () => store.create({ tokens: rand(64) })));
  t = performance.now();
  const outs = await Promise.all(ss.map((x) => x.generate({ maxTokens: 32, stopTokens: [] })));
  const dt = ms(t);
  const toks = outs.reduce((x, o) => x + o.tokens.length, 0);
  tput[`sessions${n}`] = { tokens: toks, ms: dt, tokPerS: Number(((toks * 1000) / dt).toFixed(1)) };
  for (const x of ss) await store.delete(x.id);
}
log('decode', tput);
log('memory', { ...store.memory(), sessions: undefined });
await store.close({ snapshot: false });
engine.dispose();
if (!a.data) rmSync(dataDir, { recursive: true, force: true });

// 5. The same agent turn on llama.cpp (node-llama-cpp, same weights as GGUF) keeping its context:
//    its best case, the prefix stays in its KV cache and only the 200 new tokens are evaluated.
if (!a['no-anchor']) {
  const { llamaBackend } = await import('../runtime/bench/llama-backend.js');
  for (const flashAttention of [false, true]) {
    const b = await llamaBackend(model.gguf!, { threads: Number(a.threads), flashAttention });
    const seq = await b.open(depth + 300);
    await seq.prefill(rand(depth));
    t = performance.now();
    await seq.prefill(rand(200));
    const appendMs = ms(t);
    t = performance.now();
    await seq.decode(50);
    const gen50Ms = ms(t);
    await seq.close();
    await b.close();
    log(`agentTurnLlamaCpp${flashAttention ? 'FA' : ''}`, { depth, appendToolResultMs: appendMs, generate50Ms: gen50Ms, turnMs: appendMs + gen50Ms });
  }
}
if (a.json) console.log(JSON.stringify(results, null, 2));
