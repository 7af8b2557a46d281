/**
 * The one place tests, test support and bench scripts find the shared reference data (data we did
 * not write: Qwen3's tokenizer, real chat templates, reference tokenizations, MaskBench, the
 * JSON-Schema-Test-Suite). Location: `RESIDENT_SHARED_DIR` — unset or empty → `<repo>/../shared`;
 * `none` → act as if it were absent; anything else → that folder.
 *
 * Absent (or hidden) folder: the tests whose subject needs it skip, printing why. Present folder
 * without an entry a test needs: that test file fails, naming the entry (a broken copy is not optional).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedQwen35Tokenizer } from '../../engine/synth/qwen35-tokenizer.js';

/** Environment variable that relocates (a path) or hides (`none`) the shared folder. */
export const SHARED_DIR_ENV = 'RESIDENT_SHARED_DIR';

/** `<repo>/../shared`, where the folder is looked for by default. */
export const DEFAULT_SHARED_DIR = fileURLToPath(new URL('../../../shared', import.meta.url));

/** The shared folder (absolute), or undefined when it is absent or hidden with `RESIDENT_SHARED_DIR=none`. */
export function sharedDir(): string | undefined {
  const env = process.env[SHARED_DIR_ENV];
  if (env === 'none') return undefined;
  const dir = env ? resolve(env) : DEFAULT_SHARED_DIR;
  return existsSync(dir) ? dir : undefined;
}

/** Why the shared folder is unavailable ('' when it is available). */
export function sharedAbsentReason(): string {
  if (sharedDir()) return '';
  const env = process.env[SHARED_DIR_ENV];
  if (env === 'none') return `the shared reference data is hidden (${SHARED_DIR_ENV}=none)`;
  return `the shared reference data folder ${env ? resolve(env) : DEFAULT_SHARED_DIR} is missing`;
}

/** What a test file needs from the shared folder. */
export interface SharedData<T extends readonly string[]> {
  /** Absolute paths of the requested entries, in the order asked (under the default folder when absent). */
  paths: { [K in keyof T]: string };
  /** '' when the data is there; else the skip reason (already printed once). */
  skip: string;
}

/**
 * Resolves `entries` (paths relative to the shared folder) for `subject` (what the test checks).
 * Folder absent or hidden → `skip` is the reason, printed as a warning. Folder present but an entry
 * missing → throws, naming it.
 */
export function sharedData<const T extends readonly string[]>(subject: string, ...entries: T): SharedData<T> {
  const dir = sharedDir();
  const paths = entries.map((e) => join(dir ?? DEFAULT_SHARED_DIR, e)) as { [K in keyof T]: string };
  if (!dir) {
    const skip = `skipping ${subject}: ${sharedAbsentReason()}`;
    console.warn(skip);
    return { paths, skip };
  }
  const missing = entries.filter((_, i) => !existsSync(paths[i]!));
  if (missing.length) throw new Error(`${subject}: the shared folder ${dir} has no ${missing.join(', ')}`);
  return { paths, skip: '' };
}

/** Qwen3's tokenizer folder (tokenizer.json + tokenizer_config.json) when the shared folder is there; throws if that folder lacks it. */
export function qwen3TokenizerDir(): string | undefined {
  const dir = sharedDir();
  if (!dir) return undefined;
  const tok = join(dir, 'qwen3-tokenizer');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    if (!existsSync(join(tok, f))) throw new Error(`the shared folder ${dir} has no qwen3-tokenizer/${f}`);
  }
  return tok;
}

/** The Qwen3.5 vocabulary GGUF (`qwen35-vocab/ggml-vocab-qwen35.gguf`), or undefined when the shared folder is absent. */
export function qwen35VocabFile(): string | undefined {
  const dir = sharedDir();
  if (!dir) return undefined;
  const file = join(dir, 'qwen35-vocab', 'ggml-vocab-qwen35.gguf');
  if (!existsSync(file)) throw new Error(`the shared folder ${dir} has no qwen35-vocab/ggml-vocab-qwen35.gguf`);
  return file;
}

/** The Qwen3.5 tokenizer folder for generated models, built once (cached) from the shared vocabulary GGUF; undefined without it. */
export function qwen35TokenizerDir(): string | undefined {
  const vocab = qwen35VocabFile();
  return vocab ? cachedQwen35Tokenizer(vocab) : undefined;
}
