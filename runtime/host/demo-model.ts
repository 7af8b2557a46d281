/**
 * The embedded default model: preset `tiny` with random weights, generated once into
 * `<data>/models/<name>/` (engine/synth/generated-folder.ts: temp folder, then rename) so that
 * `resident serve` works on a fresh machine. Always the built-in tokenizer: the demo model depends on
 * nothing outside the project.
 */
import { join } from 'node:path';
import { buildFolderOnce, generatedModelName } from '../../engine/synth/generated-folder.js';
import { makeModel } from '../../engine/synth/make-model.js';

/** Folder name of the demo model for a dtype (changes when the generator changes; never names a Qwen3-tokenizer folder of older versions). */
export function demoModelName(dtype: 'f32' | 'bf16'): string {
  return generatedModelName(`resident-demo-tiny-${dtype}`, 'builtin');
}

/** Returns the demo model folder under `dataDir/models`, generating it first if missing; progress goes to `log`. */
export async function ensureDemoModel(dataDir: string, dtype: 'f32' | 'bf16', log: (line: string) => void = () => {}): Promise<string> {
  const dir = join(dataDir, 'models', demoModelName(dtype));
  await buildFolderOnce(dir, 'model.safetensors', async (tmp) => {
    log(`generating the demo model (preset tiny, ${dtype}, built-in tokenizer) into ${dir} …`);
    const t0 = performance.now();
    const r = await makeModel({ preset: 'tiny', dtype, seed: 0, out: tmp, tokenizerDir: false });
    log(`demo model ready: ${(r.params / 1e6).toFixed(1)} M params in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
  return dir;
}
