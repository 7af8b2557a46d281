/**
 * The embedded default model: preset `tiny` with random weights, generated once into
 * `<data>/models/<name>/` (atomically: temp folder, then rename) so that `resident serve` works on
 * a fresh machine. Always the built-in tokenizer: the demo model depends on nothing outside the project.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAKE_MODEL_VERSION, makeModel } from '../../engine/synth/make-model.js';

/** Folder name of the demo model for a dtype (changes when the generator changes; never names a Qwen3-tokenizer folder of older versions). */
export function demoModelName(dtype: 'f32' | 'bf16'): string {
  return `resident-demo-tiny-${dtype}-v${MAKE_MODEL_VERSION}-builtintok`;
}

/** Returns the demo model folder under `dataDir/models`, generating it first if missing; progress goes to `log`. */
export async function ensureDemoModel(dataDir: string, dtype: 'f32' | 'bf16', log: (line: string) => void = () => {}): Promise<string> {
  const root = join(dataDir, 'models');
  const name = demoModelName(dtype);
  const dir = join(root, name);
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  log(`generating the demo model (preset tiny, ${dtype}, built-in tokenizer) into ${dir} …`);
  const t0 = performance.now();
  try {
    const r = await makeModel({ preset: 'tiny', dtype, seed: 0, out: tmp, tokenizerDir: false });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // another process finished first: use its folder
    }
    log(`demo model ready: ${(r.params / 1e6).toFixed(1)} M params in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
