/** The tokenizer part of a GGUF's metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`) from a Hugging Face folder. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelLoadError } from '../errors.js';
import { GgufTokenType } from '../model/gguf-format.js';
import type { GgufValue } from './gguf-bytes.js';

const { NORMAL: TOKEN_NORMAL, CONTROL: TOKEN_CONTROL, USER_DEFINED: TOKEN_USER_DEFINED, UNUSED: TOKEN_UNUSED } = GgufTokenType;

/** llama.cpp pre-tokenizer of a tokenizer.json: `qwen35` when its split regex has Qwen3.5's \p{M} (combining marks), else `qwen2`. */
function preTokenizer(tok: { pre_tokenizer?: unknown }): 'qwen2' | 'qwen35' {
  return JSON.stringify(tok.pre_tokenizer ?? null).includes('\\p{M}') ? 'qwen35' : 'qwen2';
}

/** Tokenizer metadata (llama.cpp's `gpt2` BPE with the `qwen2` / `qwen35` pre-tokenizer) from tokenizer.json / tokenizer_config.json. */
export function tokenizerMetadata(dir: string, vocabSize: number, ids: { bos?: number; eos?: number }): [string, GgufValue][] {
  const tokFile = join(dir, 'tokenizer.json');
  const cfgFile = join(dir, 'tokenizer_config.json');
  if (!existsSync(tokFile)) throw new ModelLoadError(`${dir}: no tokenizer.json (needed for GGUF)`, tokFile);
  const tok = JSON.parse(readFileSync(tokFile, 'utf8')) as {
    pre_tokenizer?: unknown;
    model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special: boolean }[];
  };
  const cfg = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>) : {};
  const tokens: string[] = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(vocabSize).fill(TOKEN_UNUSED);
  for (const [s, id] of Object.entries(tok.model.vocab)) {
    if (id >= vocabSize) throw new ModelLoadError(`${tokFile}: token id ${id} ≥ vocab_size ${vocabSize}`, tokFile);
    tokens[id] = s;
    types[id] = TOKEN_NORMAL;
  }
  for (const a of tok.added_tokens ?? []) {
    if (a.id >= vocabSize) throw new ModelLoadError(`${tokFile}: added token id ${a.id} ≥ vocab_size ${vocabSize}`, tokFile);
    tokens[a.id] = a.content;
    types[a.id] = a.special || /^<\|.*\|>$/.test(a.content) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
  }
  const byContent = (v: unknown): number | undefined => {
    const s = typeof v === 'string' ? v : (v as { content?: string } | null)?.content;
    return s === undefined ? undefined : tok.added_tokens?.find((a) => a.content === s)?.id;
  };
  const kv: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: preTokenizer(tok) }],
    ['tokenizer.ggml.tokens', { type: 'strings', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: types }],
    ['tokenizer.ggml.merges', { type: 'strings', value: tok.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m)) }],
  ];
  const eos = byContent(cfg.eos_token) ?? ids.eos;
  const pad = byContent(cfg.pad_token);
  const bos = byContent(cfg.bos_token) ?? ids.bos;
  if (eos !== undefined) kv.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  if (pad !== undefined) kv.push(['tokenizer.ggml.padding_token_id', { type: 'u32', value: pad }]);
  if (bos !== undefined) kv.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: bos }]);
  kv.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: cfg.add_bos_token === true }]);
  if (typeof cfg.chat_template === 'string') kv.push(['tokenizer.chat_template', { type: 'string', value: cfg.chat_template }]);
  return kv;
}
