/**
 * Generated test models, cached in `.cache/models/<preset>-<dtype>-s<seed>-v<version>/` (built once,
 * engine/synth/generated-folder.ts: two workers racing both succeed and agree).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFolderOnce, generatedModelName } from '../../engine/synth/generated-folder.js';
import { makeModel, type MakeModelDType } from '../../engine/synth/make-model.js';
import { QWEN35_TOKENIZER_VERSION } from '../../engine/synth/qwen35-tokenizer.js';
import { qwen35TokenizerDir, qwen3TokenizerDir } from './shared.js';

/** Repo-root `.cache/models`. */
export const MODELS_CACHE = fileURLToPath(new URL('../../.cache/models', import.meta.url));

/** A generated model: its Hugging Face folder and, if requested, its GGUF file. */
export interface TestModel {
  dir: string;
  gguf?: string;
  /** Whether Qwen3's real tokenizer (from the shared folder) is in the folder, Qwen3.5's (built from the shared vocabulary), or the built-in one. */
  tokenizer: 'qwen3' | 'qwen35' | 'builtin';
}

/**
 * Returns the cached model for (preset, dtype, seed), generating it on first use. With `gguf: true` the folder
 * also holds `model.gguf`. Uses Qwen3's tokenizer from the shared folder when it is there (see shared.ts) and
 * `builtinTokenizer` is not set, else the built-in tokenizer; the two are cached under different names.
 * `qwen35Tokenizer`: Qwen3.5's tokenizer and chat template (built from the shared vocabulary; throws without it).
 */
export async function ensureModel(preset: string, dtype: MakeModelDType, opts: { seed?: number; gguf?: boolean; builtinTokenizer?: boolean; qwen35Tokenizer?: boolean } = {}): Promise<TestModel> {
  const seed = opts.seed ?? 0;
  if (opts.qwen35Tokenizer && !qwen35TokenizerDir()) throw new Error(`${preset} with Qwen3.5's tokenizer needs the shared folder's qwen35-vocab (the shared reference data is missing)`);
  const tokDir = opts.qwen35Tokenizer ? qwen35TokenizerDir() : opts.builtinTokenizer ? undefined : qwen3TokenizerDir();
  const tokenizer = opts.qwen35Tokenizer ? 'qwen35' : tokDir ? 'qwen3' : 'builtin';
  const name = generatedModelName(`${preset}-${dtype}-s${seed}`, tokDir ? 'qwen3' : 'builtin') + (opts.qwen35Tokenizer ? `-qwen35tok${QWEN35_TOKENIZER_VERSION}` : '');
  const dir = join(MODELS_CACHE, name);
  const gguf = join(dir, 'model.gguf');
  await buildFolderOnce(dir, 'model.safetensors', (tmp) =>
    makeModel({ preset, dtype, seed, out: tmp, gguf: opts.gguf ? join(tmp, 'model.gguf') : undefined, tokenizerDir: tokDir ?? false }),
  );
  if (opts.gguf && !existsSync(gguf)) {
    const { writeGgufFromFolder } = await import('../../engine/synth/gguf-writer.js');
    await writeGgufFromFolder(dir, gguf, { name: `resident-${preset}-s${seed}` }); // atomic
  }
  return opts.gguf ? { dir, gguf, tokenizer } : { dir, tokenizer };
}
