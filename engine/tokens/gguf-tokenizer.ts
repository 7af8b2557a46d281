/**
 * A tokenizer (tokenizer.json + tokenizer_config.json objects, as Hugging Face writes them) from the `tokenizer.*`
 * metadata of a GGUF model, for the Tokenizer, ChatTemplate and grammar-vocabulary loaders.
 *
 * `tokenizer.ggml.model` gpt2 (byte-level BPE) with `tokenizer.ggml.pre` qwen2 (Qwen2/2.5/3: NFC normalizer, the
 * Qwen2 split) or qwen35 (Qwen3.5/3.6: no normalizer, letter runs take \p{M}); NORMAL tokens → BPE vocab, merges as
 * stored, CONTROL → special added tokens, USER_DEFINED → non-special added tokens; UNUSED / `[PAD<id>]` embedding
 * padding is left out. The converter marks every `<|…|>` token CONTROL; Qwen's FIM / repo tokens are not special in
 * Hugging Face's files and are restored as such. eos = `eos_token_id`; the end-of-generation ids (config) go in as
 * generation_config's `eos_token_id`. `tokenizer.chat_template` is the template.
 */
import { statSync } from 'node:fs';
import { ggufEndOfGenerationIds } from '../model/gguf-config.js';
import { GgufTokenType } from '../model/gguf-format.js';
import { ggufModelFiles } from '../model/gguf-model.js';
import { readGgufHeader, type GgufMetadata } from '../model/gguf-reader.js';
import { TokenizerError } from './errors.js';

/** Pre-tokenizer splits by `tokenizer.ggml.pre` (Hugging Face / Oniguruma syntax, as the models' tokenizer.json have them). */
const SPLITS: Record<string, { regex: string; nfc: boolean }> = {
  qwen2: { regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", nfc: true },
  qwen35: { regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", nfc: false },
};

/** Qwen added tokens that look special (`<|…|>`, so the converter marks them CONTROL) but are not special in Hugging Face's files. */
const HF_NOT_SPECIAL = new Set(['<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>']);

const PLACEHOLDER = /^\[PAD\d+\]$/;
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false } as const;

/** What the tokenizer loaders take: the two JSON objects and the generation config's eos ids. */
export interface GgufTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  config: Record<string, unknown>;
  generationConfig: { eos_token_id: number[] };
}

/** The tokenizer files of a GGUF's metadata. Throws TokenizerError for a tokenizer we cannot reproduce. */
export function ggufTokenizerFiles(meta: GgufMetadata): GgufTokenizerFiles {
  const file = meta.path;
  const fail = (why: string): never => {
    throw new TokenizerError(`${file}: ${why}`);
  };
  const model = meta.has('tokenizer.ggml.model') ? meta.string('tokenizer.ggml.model') : fail('no tokenizer.ggml.model');
  const pre = meta.has('tokenizer.ggml.pre') ? meta.string('tokenizer.ggml.pre') : 'default';
  const split = SPLITS[pre];
  if (model !== 'gpt2' || !split) fail(`tokenizer ${model}/${pre} is not supported (gpt2 with pre-tokenizer ${Object.keys(SPLITS).join(' or ')})`);
  const tokens = meta.strings('tokenizer.ggml.tokens');
  const types = meta.has('tokenizer.ggml.token_type') ? meta.ints('tokenizer.ggml.token_type') : new Int32Array(tokens.length).fill(GgufTokenType.NORMAL);
  if (types.length !== tokens.length) fail(`${tokens.length} tokens but ${types.length} token types`);
  const vocab: Record<string, number> = Object.create(null);
  const added: { id: number; content: string; special: boolean }[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const s = tokens[id]!, type = types[id]!;
    if (type === GgufTokenType.NORMAL) {
      if (vocab[s] !== undefined) fail(`token ${id} ${JSON.stringify(s)} repeats token ${vocab[s]}`);
      vocab[s] = id;
    } else if (type === GgufTokenType.CONTROL || type === GgufTokenType.USER_DEFINED) {
      if (!PLACEHOLDER.test(s)) added.push({ id, content: s, special: type === GgufTokenType.CONTROL && !HF_NOT_SPECIAL.has(s) });
    } else if (type !== GgufTokenType.UNUSED) {
      fail(`token ${id} ${JSON.stringify(s)} has token type ${type} (byte-level BPE has none)`);
    }
  }
  const merges = meta.has('tokenizer.ggml.merges') ? meta.strings('tokenizer.ggml.merges') : fail('no tokenizer.ggml.merges');
  const contentOf = (key: string): string | null => (meta.has(key) ? (tokens[meta.number(key)] ?? null) : null);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
    normalizer: split.nfc ? { type: 'NFC' } : null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: split.regex }, behavior: 'Isolated', invert: false }, BYTE_LEVEL] },
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
      ignore_merges: false, vocab, merges,
    },
  };
  const config: Record<string, unknown> = {
    add_bos_token: meta.has('tokenizer.ggml.add_bos_token') ? meta.bool('tokenizer.ggml.add_bos_token') : false,
    bos_token: contentOf('tokenizer.ggml.bos_token_id'),
    eos_token: contentOf('tokenizer.ggml.eos_token_id'),
    pad_token: contentOf('tokenizer.ggml.padding_token_id'),
    unk_token: null,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    split_special_tokens: false,
  };
  if (meta.has('tokenizer.chat_template')) config.chat_template = meta.string('tokenizer.chat_template');
  return { tokenizerJson, config, generationConfig: { eos_token_id: ggufEndOfGenerationIds(meta) } };
}

const cache = new Map<string, GgufTokenizerFiles>();

/** The tokenizer files of the GGUF model at `path` (file, folder or split set), or undefined when it is not a GGUF model. Cached per file version. */
export function ggufTokenizerAt(path: string): GgufTokenizerFiles | undefined {
  const files = ggufModelFiles(path);
  if (!files) return undefined;
  const st = statSync(files[0]!);
  const key = `${files[0]}|${st.size}|${st.mtimeMs}`;
  let t = cache.get(key);
  if (!t) {
    t = ggufTokenizerFiles(readGgufHeader(files[0]!).metadata);
    cache.clear(); // one model at a time; a 150k-token vocabulary is tens of MB
    cache.set(key, t);
  }
  return t;
}
