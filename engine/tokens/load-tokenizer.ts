/** Loading a tokenizer from a model folder's JSON files or a GGUF file's metadata. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError } from './errors.js';
import { ggufTokenizerAt } from './gguf-tokenizer.js';
import { Tokenizer } from './tokenizer.js';

async function readJson(path: string, required: boolean): Promise<Record<string, any> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Loads `tokenizer.json`, `tokenizer_config.json` (and `generation_config.json` if present) from a model folder,
 * or the tokenizer of a GGUF model's metadata (a .gguf file or a folder holding one; gguf-tokenizer.ts). Long texts
 * are encoded on a worker thread that loads the same files (`offload: false`: never — the worker itself).
 */
export async function loadTokenizer(dir: string, o: { offload?: boolean } = {}): Promise<Tokenizer> {
  const made = (t: Tokenizer) => (o.offload === false ? t : t.offloadFrom(dir)).prepare();
  const gguf = ggufTokenizerAt(dir);
  if (gguf) return made(new Tokenizer(gguf.tokenizerJson, gguf.config, gguf.generationConfig));
  const [tok, config, gen] = await Promise.all([
    readJson(join(dir, 'tokenizer.json'), true),
    readJson(join(dir, 'tokenizer_config.json'), false),
    readJson(join(dir, 'generation_config.json'), false),
  ]);
  return made(new Tokenizer(tok!, config ?? {}, gen));
}
