/** Peak resident memory of loading a model, measured in a fresh Node process (VmHWM, /proc/self/status). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EngineOptions } from '../../engine/engine-api.js';

/**
 * Loads the model folder `dir` with `options` in a child process, runs one 3-token forward (touching every
 * weight) and returns the process's RSS before loading and its peak after, in bytes, and whether weights were packed.
 */
export function loadPeakRss(dir: string, options: EngineOptions): { before: number; peak: number; packed: boolean } {
  const script = `
    import { readFileSync } from 'node:fs';
    import { loadModelSpec } from './engine/model/hf-model.ts';
    import { loadEngine } from './engine/native.ts';
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    const spec = await loadModelSpec(${JSON.stringify(dir)});
    const before = process.memoryUsage().rss;
    const e = await loadEngine(spec, ${JSON.stringify(options)});
    await e.forward([{ slot: e.createSlot(64), tokens: [1, 2, 3], logits: 'all' }]);
    console.log(JSON.stringify({ before, peak: hwm(), packed: e.packedWeights }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`load in a child process failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: number; peak: number; packed: boolean };
}
