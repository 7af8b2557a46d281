/**
 * Byte strings of every token of a byte-level BPE `tokenizer.json` (GPT-2 / Qwen style).
 *
 * Byte-level BPE vocabularies store each token as a string over a 256-character alphabet
 * (the GPT-2 "bytes to unicode" table: printable Latin-1 bytes map to themselves, the other
 * bytes to U+0100..U+0143). `loadTokenBytes` inverts that table so that `bytes[id]` is the
 * exact byte sequence the token contributes to the output. Added tokens (`added_tokens`,
 * e.g. `<|im_end|>`, `<tool_call>`) are stored as their UTF-8 content and flagged in
 * `special`: they are control tokens and never part of ordinary text.
 *
 * Reused by the grammar (token tries), detokenization and stop-sequence matching.
 */
import { ResidentError } from '../util/resident-error.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ggufTokenizerAt } from './gguf-tokenizer.js';

/** The byte strings of a vocabulary. Invariant: `bytes.length === special.length === size`. */
export interface TokenBytes {
  /** Number of token ids defined by the tokenizer (max id + 1); ids below this may still be holes. */
  size: number;
  /** `bytes[id]`: the bytes token `id` stands for; an empty array for an undefined id. */
  bytes: Uint8Array[];
  /** `special[id] === 1` for added/control tokens and for undefined ids (never text). */
  special: Uint8Array;
  /** Id of an added token by its content (e.g. `'<|im_end|>'`), or undefined. */
  addedTokenId(content: string): number | undefined;
}

/** The tokenizer file is missing or not a byte-level BPE vocabulary. */
export class TokenBytesError extends ResidentError {
  override name = 'TokenBytesError';
  override code = 'tokenizer_load_failed';
  override status = 500;
}

/** GPT-2's table: unicode code point (as used in vocab strings) → byte value (-1 = not in the alphabet). */
function unicodeToByte(): Int16Array {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Int16Array(512).fill(-1);
  for (const b of printable) map[b] = b;
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) map[256 + n++] = b;
  }
  return map;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number> };
  added_tokens?: { id: number; content: string }[];
}

/**
 * Loads the token byte strings from a tokenizer folder (containing `tokenizer.json`) or from the
 * path of a `tokenizer.json`. Throws `TokenBytesError` when the file is missing or when a vocab
 * string uses a character outside the byte-level alphabet (i.e. the vocabulary is not byte-level).
 */
export function loadTokenBytes(dirOrTokenizerJsonPath: string): TokenBytes {
  if (dirOrTokenizerJsonPath.endsWith('.gguf') || !existsSync(join(dirOrTokenizerJsonPath, 'tokenizer.json'))) {
    let gguf;
    try {
      gguf = ggufTokenizerAt(dirOrTokenizerJsonPath);
    } catch (err) {
      throw new TokenBytesError(`${dirOrTokenizerJsonPath}: ${(err as Error).message}`);
    }
    if (gguf) return tokenBytesFromJson(gguf.tokenizerJson as TokenizerJson, dirOrTokenizerJsonPath);
  }
  let path = dirOrTokenizerJsonPath;
  try {
    if (statSync(path).isDirectory()) path = join(path, 'tokenizer.json');
  } catch {
    throw new TokenBytesError(`tokenizer not found: ${dirOrTokenizerJsonPath}`);
  }
  let json: TokenizerJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as TokenizerJson;
  } catch (err) {
    throw new TokenBytesError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return tokenBytesFromJson(json, path);
}

/** Same as `loadTokenBytes` for an already parsed `tokenizer.json`. */
export function tokenBytesFromJson(json: TokenizerJson, source = 'tokenizer.json'): TokenBytes {
  const vocab = json.model?.vocab;
  if (!vocab || typeof vocab !== 'object' || json.model?.type !== 'BPE') {
    throw new TokenBytesError(`${source}: not a BPE tokenizer with a vocab`);
  }
  const added = json.added_tokens ?? [];
  let size = 0;
  for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);
  const table = unicodeToByte();
  const bytes: Uint8Array[] = new Array(size);
  const special = new Uint8Array(size).fill(1);
  for (const [piece, id] of Object.entries(vocab)) {
    const out = new Uint8Array(piece.length);
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      const b = c < 512 ? table[c] : -1;
      if (b < 0) throw new TokenBytesError(`${source}: token ${id} ${JSON.stringify(piece)} is not byte-level`);
      out[i] = b;
    }
    bytes[id] = out;
    special[id] = 0;
  }
  const byContent = new Map<string, number>();
  const enc = new TextEncoder();
  for (const t of added) {
    bytes[t.id] = enc.encode(t.content);
    special[t.id] = 1;
    byContent.set(t.content, t.id);
  }
  const empty = new Uint8Array(0);
  for (let i = 0; i < size; i++) if (!bytes[i]) bytes[i] = empty;
  return { size, bytes, special, addedTokenId: (content) => byContent.get(content) };
}
