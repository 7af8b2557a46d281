/**
 * Builds a Hugging Face Qwen3.5 tokenizer folder (`tokenizer.json` + `tokenizer_config.json` with
 * Qwen3.5's chat template) from a vocabulary GGUF (`tokenizer.ggml.model` gpt2, `tokenizer.ggml.pre`
 * qwen35), for generated Qwen3.5 test models.
 *
 * Mapping: NORMAL tokens → BPE vocab (ids 0 … n−1, contiguous); merges as stored; CONTROL and named
 * USER_DEFINED tokens → added tokens. `[PAD<id>]` placeholders are embedding padding, except at the
 * ids of the Qwen family's added tokens, which follow the last BPE token in Qwen3's order (Qwen3.5
 * keeps that order: `<|endoftext|>` n, `<|im_start|>` n+1, … `<think>` n+24, `</think>` n+25) and are
 * named from that table when the GGUF leaves them unnamed. A named token that contradicts the table
 * is an error. Pre-tokenizer: llama.cpp's `qwen35` split (letter runs take combining marks, \p{M});
 * no normalizer, as the reference tokenizations require (`e` + U+0301 stays two tokens).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { GgufTokenType } from '../model/gguf-format.js';
import { readGgufHeader, type GgufMetadata } from '../model/gguf-reader.js';
import { QWEN35_CHAT_TEMPLATE } from '../tokens/qwen35-chat-template.js';
import { QWEN3_ADDED_TOKENS } from './builtin-tokenizer.js';
import { byteLevelBpeTokenizerJson, jsonFile, qwenTokenizerConfig, type AddedTokenSpec } from './tokenizer-json.js';

/** Qwen3.5's pre-tokenizer split (Hugging Face / Oniguruma syntax); Qwen2's with `[\p{L}\p{M}]+` letter runs. */
export const QWEN35_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Bumped whenever the built files change (the cache keys on it). */
export const QWEN35_TOKENIZER_VERSION = 1;

/** The files of a built tokenizer and what went into them. */
export interface Qwen35TokenizerFiles {
  tokenizerJson: string;
  tokenizerConfigJson: string;
  /** BPE tokens (ids 0 … bpeTokens−1). */
  bpeTokens: number;
  merges: number;
  added: AddedTokenSpec[];
}

const PLACEHOLDER = /^\[PAD\d+\]$/;

/** Tokenizer files from the metadata of a qwen35 vocabulary GGUF. */
export function qwen35TokenizerFiles(meta: GgufMetadata): Qwen35TokenizerFiles {
  const file = meta.path;
  const model = meta.string('tokenizer.ggml.model');
  const pre = meta.has('tokenizer.ggml.pre') ? meta.string('tokenizer.ggml.pre') : '(none)';
  if (model !== 'gpt2' || pre !== 'qwen35') {
    throw new UnsupportedModelError(`${file}: tokenizer is ${model}/${pre}, expected gpt2/qwen35 (Qwen3.5's byte-level BPE)`, file);
  }
  const tokens = meta.strings('tokenizer.ggml.tokens');
  const types = meta.ints('tokenizer.ggml.token_type');
  if (types.length !== tokens.length) throw new ModelLoadError(`${file}: ${tokens.length} tokens but ${types.length} token types`, file);
  const bad = (id: number, why: string): never => {
    throw new ModelLoadError(`${file}: token ${id} ${JSON.stringify(tokens[id])} ${why}`, file);
  };

  const vocab: Record<string, number> = Object.create(null);
  let n = 0;
  for (; n < tokens.length && types[n] === GgufTokenType.NORMAL; n++) {
    if (vocab[tokens[n]!] !== undefined) bad(n, `repeats token ${vocab[tokens[n]!]}`);
    vocab[tokens[n]!] = n;
  }
  const added: AddedTokenSpec[] = [];
  for (let id = n; id < tokens.length; id++) {
    const type = types[id]!;
    const family = QWEN3_ADDED_TOKENS[id - n];
    const content = tokens[id]!;
    if (type === GgufTokenType.NORMAL) bad(id, `is a normal token after the added tokens began at ${n}`);
    if (type !== GgufTokenType.CONTROL && type !== GgufTokenType.USER_DEFINED && type !== GgufTokenType.UNUSED) bad(id, `has token type ${type}`);
    if (PLACEHOLDER.test(content) || type === GgufTokenType.UNUSED) {
      if (family) added.push({ id, content: family[0], special: family[1] });
      continue;
    }
    if (family && family[0] !== content) bad(id, `is not ${family[0]}, the Qwen family's added token at this position`);
    added.push({ id, content, special: family ? family[1] : type === GgufTokenType.CONTROL });
  }
  if (added.length < QWEN3_ADDED_TOKENS.length) throw new ModelLoadError(`${file}: room for ${added.length} added tokens after the ${n} BPE tokens, Qwen needs ${QWEN3_ADDED_TOKENS.length}`, file);

  const merges = meta.strings('tokenizer.ggml.merges');
  merges.forEach((m, i) => {
    const parts = m.split(' ');
    if (parts.length !== 2 || vocab[parts[0]!] === undefined || vocab[parts[1]!] === undefined || vocab[parts[0]! + parts[1]!] === undefined) {
      throw new ModelLoadError(`${file}: merge ${i} ${JSON.stringify(m)} does not join two vocabulary tokens into one`, file);
    }
  });
  const contentOf = (key: string, fallback: string) => {
    const id = meta.has(key) ? meta.number(key) : undefined;
    return added.find((t) => t.id === id)?.content ?? fallback;
  };
  const tokenizer = byteLevelBpeTokenizerJson({ vocab, merges, added, splitRegex: QWEN35_SPLIT_REGEX, normalizer: null });
  const config = qwenTokenizerConfig({
    added,
    chatTemplate: QWEN35_CHAT_TEMPLATE,
    eosToken: '<|im_end|>', // chat models end turns with <|im_end|>; the GGUF's eos is the base model's <|endoftext|>
    padToken: contentOf('tokenizer.ggml.padding_token_id', '<|endoftext|>'),
    firstAddedId: n,
    modelMaxLength: 262144,
  });
  return { tokenizerJson: jsonFile(tokenizer), tokenizerConfigJson: jsonFile(config), bpeTokens: n, merges: merges.length, added };
}

/** Builds `tokenizer.json` + `tokenizer_config.json` into `outDir` (created if missing) from the qwen35 vocabulary GGUF at `ggufPath`. */
export function buildQwen35Tokenizer(ggufPath: string, outDir: string): Qwen35TokenizerFiles {
  const files = qwen35TokenizerFiles(readGgufHeader(ggufPath).metadata);
  mkdirSync(outDir, { recursive: true });
  writeFileAtomicSync(join(outDir, 'tokenizer.json'), files.tokenizerJson);
  writeFileAtomicSync(join(outDir, 'tokenizer_config.json'), files.tokenizerConfigJson);
  return files;
}

/** Repo-root `.cache/tokenizers`. */
export const TOKENIZER_CACHE = fileURLToPath(new URL('../../.cache/tokenizers', import.meta.url));

/**
 * The tokenizer folder built from `ggufPath`, cached in `<cacheDir>/qwen35-v<version>-<sha256 of the GGUF>/`
 * (built once into a temp folder, then renamed; racing builders both succeed and agree).
 */
export function cachedQwen35Tokenizer(ggufPath: string, cacheDir = TOKENIZER_CACHE): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(ggufPath);
  } catch (e) {
    throw new ModelLoadError(`cannot read ${ggufPath}: ${(e as Error).message}`, ggufPath);
  }
  const name = `qwen35-v${QWEN35_TOKENIZER_VERSION}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
  const dir = join(cacheDir, name);
  if (existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer_config.json'))) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.tmp-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    buildQwen35Tokenizer(ggufPath, tmp);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err; // another builder won the race: its folder is the same
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
