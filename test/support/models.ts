/**
 * Generated test models, cached in `.cache/models/<preset>-<dtype>-s<seed>-v<version>/` (built once,
 * atomically: into a temp folder, then renamed; two workers racing both succeed and agree).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAKE_MODEL_VERSION, makeModel } from '../../engine/synth/make-model.js';
import type { WeightDType } from '../../engine/model/model-spec.js';
import { qwen3TokenizerDir } from './shared.js';

/** Repo-root `.cache/models`. */
export const MODELS_CACHE = fileURLToPath(new URL('../../.cache/models', import.meta.url));

/** A generated model: its Hugging Face folder and, if requested, its GGUF file. */
export interface TestModel {
  dir: string;
  gguf?: string;
  /** Whether Qwen3's real tokenizer (from the shared folder) is in the folder, or the built-in one. */
  tokenizer: 'qwen3' | 'builtin';
}

/**
 * Returns the cached model for (preset, dtype, seed), generating it on first use. With `gguf: true` the folder
 * also holds `model.gguf`. Uses Qwen3's tokenizer from the shared folder when it is there (see shared.ts),
 * else the built-in tokenizer; the two are cached under different names.
 */
export async function ensureModel(preset: string, dtype: WeightDType, opts: { seed?: number; gguf?: boolean } = {}): Promise<TestModel> {
  const seed = opts.seed ?? 0;
  const tokDir = qwen3TokenizerDir();
  const tokenizer = tokDir ? 'qwen3' : 'builtin';
  const name = `${preset}-${dtype}-s${seed}-v${MAKE_MODEL_VERSION}${tokDir ? '' : '-builtintok'}`;
  const dir = join(MODELS_CACHE, name);
  const gguf = join(dir, 'model.gguf');
  mkdirSync(MODELS_CACHE, { recursive: true });
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  if (!existsSync(join(dir, 'model.safetensors'))) {
    const tmp = join(MODELS_CACHE, `.tmp-${name}-${tag}`);
    try {
      await makeModel({ preset, dtype, seed, out: tmp, gguf: opts.gguf ? join(tmp, 'model.gguf') : undefined, tokenizerDir: tokDir });
      try {
        renameSync(tmp, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err; // another worker won the race: use its folder
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (opts.gguf && !existsSync(gguf)) {
    const { writeGgufFromFolder } = await import('../../engine/synth/gguf-writer.js');
    await writeGgufFromFolder(dir, gguf, { name: `resident-${preset}-s${seed}` }); // atomic (temp file + rename)
  }
  return opts.gguf ? { dir, gguf, tokenizer } : { dir, tokenizer };
}
