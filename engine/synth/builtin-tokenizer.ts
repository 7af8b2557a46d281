/**
 * A small byte-level BPE tokenizer in Qwen3's format, for machines without Qwen3's own tokenizer files:
 * the 256 byte tokens (ids 0–255, GPT-2 byte↔unicode order), merges learned deterministically from a
 * built-in text (the chat template plus a short English sample; ids 256…), and Qwen3's 26 added tokens
 * at their real ids 151643–151668. Same normalizer / pre-tokenizer / decoder structure as Qwen3's.
 */
import { QWEN3_CHAT_TEMPLATE } from '../tokens/qwen3-chat-template.js';
import { byteLevelBpeTokenizerJson, jsonFile, qwenTokenizerConfig } from './tokenizer-json.js';

/** Qwen3's added tokens: [content, special], ids 151643 + index. */
export const QWEN3_ADDED_TOKENS: readonly (readonly [string, boolean])[] = [
  ['<|endoftext|>', true],
  ['<|im_start|>', true],
  ['<|im_end|>', true],
  ['<|object_ref_start|>', true],
  ['<|object_ref_end|>', true],
  ['<|box_start|>', true],
  ['<|box_end|>', true],
  ['<|quad_start|>', true],
  ['<|quad_end|>', true],
  ['<|vision_start|>', true],
  ['<|vision_end|>', true],
  ['<|vision_pad|>', true],
  ['<|image_pad|>', true],
  ['<|video_pad|>', true],
  ['<tool_call>', false],
  ['</tool_call>', false],
  ['<|fim_prefix|>', false],
  ['<|fim_middle|>', false],
  ['<|fim_suffix|>', false],
  ['<|fim_pad|>', false],
  ['<|repo_name|>', false],
  ['<|file_sep|>', false],
  ['<tool_response>', false],
  ['</tool_response>', false],
  ['<think>', false],
  ['</think>', false],
];
/** Id of the first added token (`<|endoftext|>`). */
export const QWEN3_FIRST_ADDED_ID = 151643;

/** Qwen3's pre-tokenizer split pattern (Hugging Face / Oniguruma syntax, as in tokenizer.json). */
export const QWEN3_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** The same pattern in JavaScript syntax (no inline `(?i:)`). */
const SPLIT_JS =
  /'(?:[sStTmMdD]|[rR][eE]|[vV][eE]|[lL][lL])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable unicode char table, in vocabulary order: [byte, char] for ids 0–255. */
export function byteLevelAlphabet(): [number, string][] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const out: [number, string][] = bs.map((b) => [b, String.fromCodePoint(b)]);
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) out.push([b, String.fromCodePoint(256 + n++)]);
  return out;
}

const SAMPLE =
  'The quick brown fox jumps over the lazy dog. You are a helpful assistant. ' +
  'Please call the function with the following arguments and return the result as JSON. ' +
  '{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}} ' +
  'The user asked a question about the weather in the city; the assistant answered with the tool response. ' +
  'def main():\n    return 0\n\nfunction hello(name) {\n  return `Hello, ${name}!`;\n}\n';

/** Learns up to `maxMerges` BPE merges from `text` (ties: higher count, then smaller pair string). */
function learnMerges(text: string, maxMerges: number): [string, string][] {
  const byteChar = new Map(byteLevelAlphabet());
  const counts = new Map<string, number>();
  for (const piece of text.normalize('NFC').match(SPLIT_JS) ?? []) {
    const mapped = [...Buffer.from(piece, 'utf8')].map((b) => byteChar.get(b)!).join('\u0000');
    counts.set(mapped, (counts.get(mapped) ?? 0) + 1);
  }
  let words = [...counts].map(([w, n]) => ({ syms: w.split('\u0000'), n }));
  const merges: [string, string][] = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.syms.length; i++) {
      const k = w.syms[i] + '\u0000' + w.syms[i + 1];
      pairs.set(k, (pairs.get(k) ?? 0) + w.n);
    }
    let best: string | undefined;
    let bestN = 1;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && best !== undefined && k < best)) [best, bestN] = [k, n];
    if (!best) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    words = words.map((w) => {
      const syms: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) syms.push(a + b), i++;
        else syms.push(w.syms[i]!);
      }
      return { syms, n: w.n };
    });
  }
  return merges;
}

/** The files of the built-in tokenizer, as JSON text. */
export function writeBuiltinTokenizer(): { tokenizerJson: string; tokenizerConfigJson: string } {
  const vocab: Record<string, number> = {};
  for (const [id, [, ch]] of byteLevelAlphabet().entries()) vocab[ch] = id;
  const merges = learnMerges(QWEN3_CHAT_TEMPLATE + '\n' + SAMPLE, 2000);
  let next = 256;
  for (const [a, b] of merges) if (vocab[a + b] === undefined) vocab[a + b] = next++;
  const added = QWEN3_ADDED_TOKENS.map(([content, special], i) => ({ id: QWEN3_FIRST_ADDED_ID + i, content, special }));
  const tokenizer = byteLevelBpeTokenizerJson({ vocab, merges: merges.map(([a, b]) => `${a} ${b}`), added, splitRegex: QWEN3_SPLIT_REGEX, normalizer: 'NFC' });
  const config = qwenTokenizerConfig({
    added, chatTemplate: QWEN3_CHAT_TEMPLATE, eosToken: '<|im_end|>', padToken: '<|endoftext|>', firstAddedId: QWEN3_FIRST_ADDED_ID, modelMaxLength: 131072,
  });
  return { tokenizerJson: jsonFile(tokenizer), tokenizerConfigJson: jsonFile(config) };
}
