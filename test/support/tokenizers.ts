/**
 * Tokenizer folders for tests whose subject does not depend on the vocabulary: the built-in tokenizer
 * (engine/synth/builtin-tokenizer.ts, written once into `.cache/tokenizers/builtin-<sha>/`) on every
 * machine, and Qwen3's real one too when the shared folder is there.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBuiltinTokenizer } from '../../engine/synth/builtin-tokenizer.js';
import { qwen3TokenizerDir } from './shared.js';

const CACHE = fileURLToPath(new URL('../../.cache/tokenizers', import.meta.url));

/** A tokenizer folder (tokenizer.json + tokenizer_config.json) and which tokenizer it holds. */
export interface TestTokenizer {
  name: 'qwen3' | 'builtin';
  dir: string;
}

/** The built-in tokenizer's folder (content-addressed; written atomically on first use). */
export function builtinTokenizerDir(): string {
  const files = writeBuiltinTokenizer();
  const sha = createHash('sha256').update(files.tokenizerJson).update(files.tokenizerConfigJson).digest('hex').slice(0, 16);
  const dir = join(CACHE, `builtin-${sha}`);
  if (existsSync(join(dir, 'tokenizer_config.json'))) return dir;
  const tmp = join(CACHE, `.tmp-builtin-${sha}-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, 'tokenizer.json'), files.tokenizerJson);
    writeFileSync(join(tmp, 'tokenizer_config.json'), files.tokenizerConfigJson);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // another worker wrote the same files first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Qwen3's tokenizer when the shared folder is there, then the built-in one (always). */
export function testTokenizers(): TestTokenizer[] {
  const qwen3 = qwen3TokenizerDir();
  return [...(qwen3 ? [{ name: 'qwen3' as const, dir: qwen3 }] : []), { name: 'builtin', dir: builtinTokenizerDir() }];
}
