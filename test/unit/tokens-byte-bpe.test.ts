/**
 * Our sliced byte-level BPE (engine/tokens/byte-bpe.ts, pre-tokens.ts) against `@huggingface/tokenizers`
 * run whole (`Tokenizer.encode`, the oracle): the same ids for long runs of every character class,
 * fuzzed strings, NFC across chunk boundaries — and the sliced encode lets the event loop turn.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { testTokenizers } from '../support/tokenizers.js';
import { qwen35TokenizerDir } from '../support/shared.js';

/** Deterministic pseudo-random generator (LCG). */
function lcg(seed: number) {
  let x = seed >>> 0;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}
const pick = (alphabet: string[], n: number, seed: number) => {
  const r = lcg(seed);
  return Array.from({ length: n }, () => alphabet[r(alphabet.length)]).join('');
};
const LETTERS = [...'abcdefghijklmnopqrstuvwxyz'];
/** Characters of every pre-token class: spaces, newlines, letters, digits, punctuation, accents, CJK, emoji, combining marks, lone surrogates. */
const TRICKY = [...' \n\r\t.,;:!?\'"-_/\\(){}[]<>aeiouxyzAEZ0179éüßçñ中文日本語한국어Привет'].concat(['😀', '👍🏽', '\u0301', '\u0308', '\u1161', '\u11a8', '\ud800', '\udc00', '\u200b', '\u00a0', '\u3000', "'s", "'ll"]);

/** Long runs of one character, and long single pieces of mixed ones. */
const RUNS: [name: string, text: (n: number) => string][] = [
  ['spaces', (n) => ' '.repeat(n)],
  ["'a'", (n) => 'a'.repeat(n)],
  ['newlines', (n) => '\n'.repeat(n)],
  ["'0'", (n) => '0'.repeat(n)],
  ["'é'", (n) => 'é'.repeat(n)],
  ["'中'", (n) => '中'.repeat(n)],
  ['random letters', (n) => pick(LETTERS, n, n)],
  ['random code points', (n) => pick(TRICKY, n, n + 1)],
  ['JSON', (n) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ k: i, v: 'x'.repeat(i % 9), f: i / 7 }))).slice(0, n)],
  ['tabs and spaces', (n) => pick([' ', '\t', '  ', '\n '], n, n + 2)],
];
const SIZES = [1, 2, 3, 127, 128, 129, 255, 1000, 4097, 20_000];

/** Every byte-level tokenizer the tests have: built-in, Qwen3's and Qwen3.5's when the shared data is there. */
const TOKENIZERS = [...testTokenizers(), ...(qwen35TokenizerDir() ? [{ name: 'qwen35', dir: qwen35TokenizerDir()! }] : [])];

describe.each(TOKENIZERS)('sliced byte-level BPE = the library ($name)', ({ dir }) => {
  let tok: Tokenizer;
  let oracle: (text: string) => number[];
  beforeAll(async () => {
    tok = await loadTokenizer(dir);
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const hf = new HfTokenizer(json, JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
    oracle = (text) => hf.encode(text, { add_special_tokens: false }).ids;
  });

  it('runs our BPE (not the library fallback) for this tokenizer', () => {
    tok.encode('x y');
    expect((tok as unknown as { fast: unknown }).fast).toBeTruthy();
  });

  it.each(RUNS)('%s at every size gives the library’s ids', (_name, text) => {
    const bad = SIZES.filter((n) => JSON.stringify(tok.encode(text(n))) !== JSON.stringify(oracle(text(n))));
    expect(bad).toEqual([]);
  });

  it('600 fuzzed strings give the library’s ids', () => {
    const bad: string[] = [];
    for (let seed = 0; seed < 600; seed++) {
      const r = lcg(seed * 7919);
      const s = pick(seed % 3 === 0 ? LETTERS.concat([' ', "'"]) : TRICKY, 1 + r(seed % 10 === 0 ? 3000 : 200), seed);
      if (JSON.stringify(tok.encode(s)) !== JSON.stringify(oracle(s))) bad.push(JSON.stringify(s.slice(0, 80)));
    }
    expect(bad).toEqual([]);
  });

  it('normalises NFC across chunk boundaries as over the whole text', () => {
    // 'e' + combining acute (→ é), Hangul jamo (L V T → one syllable), and ASCII between them: > 2 chunks of 32k
    const unit = ['e\u0301', '\u1100\u1161\u11a8', 'A\u030a\u0323', 'x ', 'q\u0307\u0323'];
    const text = pick(unit, 40_000, 5);
    expect(tok.encode(text)).toEqual(oracle(text));
  });

  it('the sliced encode (in-process: a tokenizer built from JSON has no worker) gives the same ids and lets the event loop turn', async () => {
    const text = ' '.repeat(2 ** 20) + pick(LETTERS, 2 ** 19, 3) + '中'.repeat(2 ** 18);
    const sync = tok.encode(text);
    const json = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const inProcess = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    let turns = 0;
    const iv = setInterval(() => turns++, 1);
    const sliced = await inProcess.encodeSegmentsAsync([{ text, trusted: false }]);
    clearInterval(iv);
    expect(sliced).toEqual(sync);
    expect(turns).toBeGreaterThan(5);
  });
});
