import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { ensureModel } from '../support/models.js';
import { logSoftmax, row } from '../support/numeric.js';

const BIN = fileURLToPath(new URL('../../bin/resident.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });

describe('resident score', () => {
  it.each(['tiny', 'tiny-hybrid'])('prints the top-k log-probs of every position as JSON, equal to the engine (%s)', async (preset) => {
    const m = await ensureModel(preset, 'f32');
    const tokens = [9707, 11, 1879, 0, 151644, 42];
    const r = run('score', '--model', m.dir, '--tokens', tokens.join(','), '--top', '5', '--json', '--threads', '2');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { tokens: number[]; positions: { pos: number; top: { id: number; logprob: number }[] }[] };
    expect(out.tokens).toEqual(tokens);
    expect(out.positions.map((p) => p.pos)).toEqual([0, 1, 2, 3, 4, 5]);
    const engine = await loadEngine(await loadModelSpec(m.dir), { threads: 1 });
    const [ours] = await engine.forward([{ slot: engine.createSlot(16, 'f32'), tokens, logits: 'all' }]);
    for (const p of out.positions) {
      const lp = logSoftmax(row(ours!.data, p.pos, 151_936));
      expect(p.top).toHaveLength(5);
      for (const e of p.top) expect(Math.abs(e.logprob - lp[e.id]!)).toBeLessThan(1e-4);
      for (let i = 1; i < 5; i++) expect(p.top[i]!.logprob).toBeLessThanOrEqual(p.top[i - 1]!.logprob);
    }
    engine.dispose();
  });

  it('rejects bad flags with exit code 2 and a message', () => {
    const r = run('score', '--model', '/nonexistent', '--tokens', '1,x');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--tokens must be');
    expect(run('score', '--help').stdout).toContain('resident score --model DIR');
  });
});

describe('resident bench', () => {
  it('measures ours and llama.cpp side by side and prints {machine, rows}', async () => {
    const m = await ensureModel('tiny', 'f32', { gguf: true });
    const r = run('bench', '--model', m.dir, '--gguf', m.gguf!, '--prefill', '32', '--decode', '4', '--depth', '64', '--sessions', '3', '--threads', '2', '--fa', 'off', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { machine: { threads: number }; rows: { name: string; unit: string; ours: number; llamacpp: number; ratio: number; oursRange?: [number, number] }[] };
    expect(out.machine.threads).toBe(2);
    expect(out.rows.map((x) => x.name)).toEqual([
      'prefill 32', 'decode 4', 'cold prefill 64', 'prefill 32 at depth 64', 'decode 4 at depth 64', 'decode 4 × 3 sessions (total)',
      'decode 4, repetitive context', 'machine: memory read rate (probe)', 'decode 4: weight + KV bytes per token', 'decode 4: bytes × tok/s',
      'decode 4: limit at the probed rate', 'decode: share of the limit, probed beside each of 6 rounds (median)',
      'decode 4, repetitive context, n-gram speculation', 'speculation: accepted drafts per forward', '3-session speed-up vs 1',
    ]);
    const byName = new Map(out.rows.map((x) => [x.name, x]));
    const share = 'decode: share of the limit, probed beside each of 6 rounds (median)';
    const oursOnly = ['machine: memory read rate (probe)', 'decode 4: weight + KV bytes per token', 'decode 4: limit at the probed rate', share, 'speculation: accepted drafts per forward'];
    for (const x of out.rows) {
      if (oursOnly.includes(x.name)) continue;
      expect(x.unit).toBe(x.name.includes('speed-up') ? '×' : x.name.includes('bytes ×') ? 'GB/s' : 'tok/s');
      expect(x.ours).toBeGreaterThan(0);
      expect(x.llamacpp).toBeGreaterThan(0);
      // the ratio comes from unrounded figures: it matches ours / llamacpp up to the rounding of the three printed values
      const rounding = 0.005 / x.ours + 0.005 / x.llamacpp + 0.0005 / x.ratio;
      expect(Math.abs(x.ratio - x.ours / x.llamacpp) / x.ratio).toBeLessThanOrEqual(rounding * 1.01 + 1e-9);
    }
    // decode against the machine: a real probe (> 1 GB/s), the tiny model's bytes, the rate they allow
    const rate = byName.get('machine: memory read rate (probe)')!.ours, gb = byName.get('decode 4: weight + KV bytes per token')!.ours;
    expect(rate).toBeGreaterThan(1);
    expect(gb).toBeGreaterThan(0);
    expect(byName.get('decode 4: bytes × tok/s')!.ratio).toBe(byName.get('decode 4')!.ratio);
    expect(byName.get('decode 4: limit at the probed rate')!.ours / (rate / gb)).toBeCloseTo(1, 1);
    // the share measured with a probe beside each round: a percentage within its own range (a tiny model's weights
    // stay in cache, so it may pass 100 %)
    const s = byName.get(share)!;
    expect(s.unit).toBe('%');
    expect(s.ours).toBeGreaterThan(0);
    expect(s.oursRange![0]).toBeLessThanOrEqual(s.ours);
    expect(s.oursRange![1]).toBeGreaterThanOrEqual(s.ours);
  });
});

describe('resident bench on a hybrid', () => {
  it('times an agent turn at depth against llama.cpp and reports the checkpoint bytes of a session', async () => {
    const m = await ensureModel('tiny-hybrid', 'f32', { gguf: true });
    const r = run('bench', '--model', m.dir, '--gguf', m.gguf!, '--prefill', '16', '--decode', '4', '--depth', '0', '--sessions', '1', '--agent-turn', '256', '--repetitive', 'off', '--threads', '2', '--fa', 'off', '--json');
    expect(r.status, r.stderr).toBe(0);
    const rows = new Map((JSON.parse(r.stdout) as { rows: { name: string; unit: string; ours: number; llamacpp: number | null; ratio: number | null }[] }).rows.map((x) => [x.name, x]));
    const turn = rows.get('agent turn at depth 256: append 200 + generate 50')!;
    expect(turn.unit).toBe('s');
    expect(turn.ours).toBeGreaterThan(0);
    expect(turn.llamacpp).toBeGreaterThan(0);
    expect(Math.abs(turn.ratio! - turn.llamacpp! / turn.ours) / turn.ratio!).toBeLessThan(0.02); // time: theirs over ours
    // one checkpoint = per linear-attention layer, the conv window and the delta state, f32
    const c = (await loadModelSpec(m.dir)).config;
    const lin = c.linearAttention!;
    const channels = 2 * lin.numKeyHeads * lin.keyHeadDim + lin.numValueHeads * lin.valueHeadDim;
    const perLayer = (lin.convKernel - 1) * channels + lin.numValueHeads * lin.keyHeadDim * lin.valueHeadDim;
    const linearLayers = c.layerKinds!.filter((t) => t === 'linear').length;
    expect(rows.get('session: bytes per state checkpoint')!.ours).toBeCloseTo((linearLayers * perLayer * 4) / 1e6, 3);
    expect(rows.get('session: checkpoints kept in the default budget (64 MiB)')!.ours).toBe(Math.floor(64 * 2 ** 20 / (linearLayers * perLayer * 4)));
    expect([...rows.keys()].some((k) => k.includes('repetitive'))).toBe(false); // --repetitive off
  });
});
