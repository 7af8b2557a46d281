import { describe, expect, it } from 'vitest';
import { patternDfa, utf8Sequences } from '../../engine/grammar/regex/byte-dfa.js';
import { RegexCompileError } from '../../engine/grammar/errors.js';

const enc = new TextEncoder();
function dfaMatches(pattern: string, s: string): boolean {
  const d = patternDfa(pattern);
  let st = 0;
  for (const b of enc.encode(s)) if ((st = d.step(st, b)) < 0) return false;
  return d.accepting[st] === 1;
}

// deterministic pseudo-random strings
function* strings(alpha: string[], n: number, seed = 7): Generator<string> {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = Math.floor(rnd() * 9);
    for (let k = 0; k < len; k++) s += alpha[Math.floor(rnd() * alpha.length)];
    yield s;
  }
}

describe('regex → byte DFA', () => {
  const cases = [
    '^[a-z]+$', 'abc', '^\\d{3}-\\d{4}$', '^(foo|bar)+baz?$', '^[^x]*$', '\\w+@\\w+\\.com', '^.{2,5}$',
    '^[\\u00e0-\\u00ff\\u4e00-\\u9fff]+$', '^(?:a|b){0,3}c$', '^[A-Z]{2}$|^x$', '^\\S+\\s\\S+$', '^[^\\d\\s]?$', '(?<y>\\d{2})-\\1?',
  ].filter((p) => !p.includes('\\1'));
  const alpha = ['a', 'b', 'c', 'x', 'z', '1', '2', '-', '@', '.', 'é', '中', '😀', '\n', ' ', 'A', 'Z', 'f', 'o', 'r', '.com'];
  for (const p of cases) {
    it(`agrees with RegExp(u) on ${p}`, () => {
      const re = new RegExp(p, 'u');
      for (const s of strings(alpha, 1500)) expect(dfaMatches(p, s), `${p} on ${JSON.stringify(s)}`).toBe(re.test(s));
    });
  }

  it('splits code point ranges into UTF-8 byte sequences without surrogates', () => {
    const seqs = utf8Sequences(0, 0x10ffff);
    expect(seqs.some((s) => s.length === 3 && s[0][0] === 0xed && s[1][1] > 0x9f)).toBe(false);
    expect(seqs.map((s) => s.length).sort()).toContain(4);
  });

  it('refuses non-regular or unsupported constructs with RegexCompileError', () => {
    for (const p of ['(?=a)b', 'a(?!b)', '(a)\\1', '\\bword', '^\\p{L}+$', 'a^b', 'a{2000}']) {
      expect(() => patternDfa(p), p).toThrow(RegexCompileError);
    }
  });
});
