import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { GgufMetadata, type GgufMetaValue } from '../../engine/model/gguf-reader.js';
import { QWEN3_SPLIT_REGEX } from '../../engine/synth/builtin-tokenizer.js';
import { buildQwen35Tokenizer, cachedQwen35Tokenizer, qwen35TokenizerFiles } from '../../engine/synth/qwen35-tokenizer.js';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import { QWEN35_CHAT_TEMPLATE } from '../../engine/tokens/qwen35-chat-template.js';
import { Tokenizer } from '../../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { qwen35TokenizerDir, qwen35VocabFile, sharedData } from '../support/shared.js';

const VOCAB = qwen35VocabFile();
const [TEMPLATE_FILE] = sharedData('the Qwen3.5 tokenizer built from the shared vocabulary', 'chat-templates/Qwen3.5-4B.jinja').paths;

/** The reference inputs (each terminated by a `__ggml_vocab_test__` line) and Hugging Face's ids for each. */
function referenceVectors(): { input: string; ids: number[] }[] {
  const raw = readFileSync(`${VOCAB}.inp`, 'utf8');
  const inputs = raw.split('\n__ggml_vocab_test__\n');
  expect(inputs.pop()).toBe('');
  const outputs = readFileSync(`${VOCAB}.out`, 'utf8').split('\n');
  if (outputs[outputs.length - 1] === '') outputs.pop();
  expect(outputs.length).toBe(inputs.length);
  return inputs.map((input, i) => ({ input, ids: outputs[i]!.trim() === '' ? [] : outputs[i]!.trim().split(/\s+/).map(Number) }));
}

/** Multilingual text with combining marks, where the qwen35 split (letter runs take \p{M}) matters. */
const MARKS_CORPUS = [
  'عَرَبِيّ مُشَكَّل', "don't \u0301'll", 'Tiếng Việt có dấu', 'हिन्दी भाषा', 'ภาษาไทย', 'שָׁלוֹם', 'Z\u0351\u0364\u0314a\u0336l\u0335g\u0338o',
  'x\u0308\u0301y \u0301\u0301 कित', '1\u0301 2\u20dd', 're\u0301sume\u0301 e\u0301', '한국어 테스트', 'ʼn \u0301!',
];

describe.skipIf(!VOCAB)('Qwen3.5 tokenizer built from ../shared/qwen35-vocab', () => {
  let dir: string;
  let tok: Tokenizer;
  const root = mkdtempSync(join(tmpdir(), 'resident-q35tok-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeAll(async () => {
    dir = cachedQwen35Tokenizer(VOCAB!);
    tok = await loadTokenizer(dir);
  }, 60_000);

  it('encodes every reference vector to Hugging Face ids exactly, and decodes back to the input', () => {
    const vectors = referenceVectors();
    expect(vectors.length).toBeGreaterThanOrEqual(50);
    const failures: string[] = [];
    for (const { input, ids } of vectors) {
      const got = tok.encode(input);
      if (JSON.stringify(got) !== JSON.stringify(ids)) failures.push(`${JSON.stringify(input)}: ${got} != ${ids}`);
      expect(tok.decode(got)).toBe(input);
    }
    expect(failures).toEqual([]);
  });

  it('splits like llama.cpp reading the same GGUF on text with combining marks (and unlike the Qwen2 split)', async () => {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    // logs off: node-llama-cpp first simulates a full load of this tensor-less file and logs that failure (loadModel still throws on a real one)
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled, progressLogs: false });
    const model = await llama.loadModel({ modelPath: VOCAB!, vocabOnly: true, gpuLayers: 0 });
    try {
      for (const s of MARKS_CORPUS) {
        expect(tok.encode(s), s).toEqual(model.tokenize(s).map(Number));
        expect(tok.decode(tok.encode(s))).toBe(s);
      }
    } finally {
      await model.dispose();
    }
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    json.pre_tokenizer.pretokenizers[0].pattern.Regex = QWEN3_SPLIT_REGEX;
    const qwen2Split = new Tokenizer(json, JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
    expect(MARKS_CORPUS.filter((s) => JSON.stringify(qwen2Split.encode(s)) !== JSON.stringify(tok.encode(s))).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('maps the special and added tokens to their ids; only control tokens are special', () => {
    const ids: Record<string, number> = {
      '<|endoftext|>': 151643, '<|im_start|>': 151644, '<|im_end|>': 151645, '<|vision_start|>': 151652, '<|image_pad|>': 151655,
      '<|video_pad|>': 151656, '<tool_call>': 151657, '</tool_call>': 151658, '<tool_response>': 151665, '</tool_response>': 151666,
      '<think>': 151667, '</think>': 151668,
    };
    for (const [content, id] of Object.entries(ids)) {
      expect(tok.tokenToId(content), content).toBe(id);
      expect(tok.idToToken(id)).toBe(content);
      expect(tok.decode([id])).toBe(content);
    }
    expect(tok.vocabSize).toBe(151669);
    expect(tok.eosIds).toEqual([151645]);
    expect(tok.templateTokens).toEqual({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
    expect(tok.specialIds.has(151644)).toBe(true);
    expect(tok.specialIds.has(151667)).toBe(false); // <think> is added, not special (as in Qwen3)
    // added tokens typed in text are recognised; special ones only in trusted framing
    expect(tok.encode('a<think>b</think>')).toEqual([...tok.encode('a'), 151667, ...tok.encode('b'), 151668]);
    expect(tok.encode('<tool_call>\n<function=f>')).toEqual([151657, ...tok.encode('\n<function=f>')]);
    expect(tok.encode('<|im_start|>user')).not.toContain(151644);
    expect(tok.encode('<|im_start|>user', { allowSpecial: true })[0]).toBe(151644);
  });

  it('carries Qwen3.5 chat template and renders it with these tokens', async () => {
    const t = await ChatTemplate.fromDir(dir);
    expect(t.source).toBe(QWEN35_CHAT_TEMPLATE);
    expect(QWEN35_CHAT_TEMPLATE).toBe(readFileSync(TEMPLATE_FILE, 'utf8')); // the shared folder is there (this describe needs it), so is the template
    const text = t.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
    expect(text).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n');
    expect(tok.encode(text, { allowSpecial: true })).toEqual([151644, ...tok.encode('user\nhi'), 151645, ...tok.encode('\n'), 151644, ...tok.encode('assistant\n'), 151667, ...tok.encode('\n')]);
  });

  it('caches the build: same folder on a second call, same files as a fresh build', () => {
    expect(cachedQwen35Tokenizer(VOCAB!)).toBe(dir);
    expect(qwen35TokenizerDir()).toBe(dir);
    const fresh = join(root, 'fresh');
    const files = buildQwen35Tokenizer(VOCAB!, fresh);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) expect(readFileSync(join(fresh, f), 'utf8')).toBe(readFileSync(join(dir, f), 'utf8'));
    expect(files.bpeTokens).toBe(151643);
    expect(files.merges).toBe(151387);
    expect(files.added).toHaveLength(26);
    const other = join(root, 'cache');
    const built = cachedQwen35Tokenizer(VOCAB!, other);
    expect(built.startsWith(other)).toBe(true);
    expect(readFileSync(join(built, 'tokenizer.json'), 'utf8')).toBe(files.tokenizerJson);
  }, 60_000);
});

describe('Qwen3.5 tokenizer builder checks the GGUF vocabulary', () => {
  /** A tiny vocabulary: bytes a, b, merged ab, then `<|endoftext|>` and placeholders for the rest of the family. */
  function meta(over: Record<string, GgufMetaValue> = {}, tokensOver: Record<number, string> = {}): GgufMetadata {
    const tokens = ['a', 'b', 'ab', '<|endoftext|>', '<|im_start|>', '<|im_end|>', ...Array.from({ length: 30 }, (_, i) => `[PAD${i + 6}]`)];
    for (const [i, t] of Object.entries(tokensOver)) tokens[Number(i)] = t;
    const types = Int32Array.from(tokens, (t, i) => (i < 3 ? 1 : i < 6 ? 3 : 4));
    const kv: Record<string, GgufMetaValue> = {
      'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'qwen35', 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.token_type': types,
      'tokenizer.ggml.merges': ['a b'], 'tokenizer.ggml.padding_token_id': 3, ...over,
    };
    return new GgufMetadata('vocab.gguf', new Map(Object.entries(kv)));
  }

  it('names the family tokens behind placeholders and keeps real names', () => {
    const f = qwen35TokenizerFiles(meta());
    expect(f.bpeTokens).toBe(3);
    expect(f.added.slice(0, 3).map((t) => [t.id, t.content, t.special])).toEqual([[3, '<|endoftext|>', true], [4, '<|im_start|>', true], [5, '<|im_end|>', true]]);
    expect(f.added.find((t) => t.content === '</think>')?.id).toBe(3 + 25);
    expect(f.added).toHaveLength(26); // the placeholders past the family are padding
    const cfg = JSON.parse(f.tokenizerConfigJson);
    expect([cfg.eos_token, cfg.pad_token, cfg.chat_template]).toEqual(['<|im_end|>', '<|endoftext|>', QWEN35_CHAT_TEMPLATE]);
    expect(JSON.parse(f.tokenizerJson).normalizer).toBeNull();
  });

  it('refuses other pre-tokenizers, contradicting names, and merges outside the vocabulary', () => {
    expect(() => qwen35TokenizerFiles(meta({ 'tokenizer.ggml.pre': 'qwen2' }))).toThrow(UnsupportedModelError);
    expect(() => qwen35TokenizerFiles(meta({}, { 4: '<|im_end|>' }))).toThrow(/token 4 "<\|im_end\|>" is not <\|im_start\|>/);
    expect(() => qwen35TokenizerFiles(meta({ 'tokenizer.ggml.merges': ['a c'] }))).toThrow(ModelLoadError);
    expect(() => qwen35TokenizerFiles(meta({ 'tokenizer.ggml.token_type': Int32Array.from([1, 1]) }))).toThrow(/36 tokens but 2 token types/);
  });
});
