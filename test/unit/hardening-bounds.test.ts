/**
 * The bounds the HTTP edge relies on: JSON nesting measured without recursion (text and parsed
 * value), canonical comparison of values of any depth, and the tokenizer's lower bound on token
 * counts (never above the true count; linear in the text) used to refuse oversized prompts before BPE.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonDepthExceeds, jsonTextDepth, MAX_JSON_DEPTH } from '../../engine/util/json-depth.js';
import { canonicalJson } from '../../engine/tokens/prefix-match.js';
import { type Tokenizer } from '../../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { sharedData } from '../support/shared.js';

describe('JSON depth', () => {
  it('counts brackets outside strings, escapes included', () => {
    const cases: [string, number][] = [['1', 0], ['{}', 1], ['[[]]', 2], ['{"a":"[[[["}', 1], ['{"a":"\\\\"}', 1], ['{"a":"\\"[[["}', 1], ['[{"a":[1,"]"]}]', 3], ['"\\\\\\"["', 0]];
    for (const [text, depth] of cases) expect([text, jsonTextDepth(text)]).toEqual([text, depth]);
  });

  it('measures a parsed value without recursion, 1,000,000 deep', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(jsonTextDepth(text)).toBe(1_000_000);
    const v = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(jsonDepthExceeds(v)).toBe(true);
    expect(jsonDepthExceeds(JSON.parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)))).toBe(false);
    expect(jsonDepthExceeds(JSON.parse('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)))).toBe(true);
  });
});

describe('canonicalJson', () => {
  it('sorts keys, drops undefined members and matches JSON.stringify on shallow values', () => {
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: undefined, e: 'é"' })).toBe('{"b":[1,{"c":null,"d":"x"}],"e":"é\\""}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([undefined, 2])).toBe('[null,2]');
  });

  it('compares values 100,000 deep without overflowing the stack', () => {
    const a = JSON.parse('{"x":'.repeat(100_000) + '1' + '}'.repeat(100_000));
    const b = JSON.parse('{"x":'.repeat(100_000) + '2' + '}'.repeat(100_000));
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
    expect(canonicalJson(a).length).toBe(5 * 100_000 + 1 + 100_000);
  });
});

const needQwen3 = sharedData('the token lower bound on the real Qwen3 vocabulary', 'qwen3-tokenizer');
describe.skipIf(!!needQwen3.skip)('token lower bound (Qwen3 tokenizer from the shared data)', () => {
  const need = needQwen3;
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(need.paths[0]);
  });

  it('never exceeds the true count', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['a', ' ', '\n', '-', '=', '1', 'é', '字', 'ab', '  ', '\t', '"', '🙂'];
    for (let n = 0; n < 200; n++) {
      let text = '';
      const parts = 1 + Math.floor(rnd() * 6);
      for (let p = 0; p < parts; p++) text += alphabet[Math.floor(rnd() * alphabet.length)]!.repeat(Math.floor(rnd() * (rnd() < 0.3 ? 3000 : 40)));
      expect(tok.minTokens(text)).toBeLessThanOrEqual(tok.encode(text).length);
    }
  });

  it('is tight enough to refuse 8 MB of one character against a 40,960-token context', () => {
    for (const ch of ['a', ' ', '-', '=', '\n', '0']) {
      const text = ch.repeat(8 * 2 ** 20);
      expect([ch, tok.minTokens(text) > 40_960]).toEqual([ch, true]); // its speed: test/model/http-hardening.test.ts
    }
  });
});
