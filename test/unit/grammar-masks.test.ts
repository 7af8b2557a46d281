// The mask engine's shortcuts (union of per-state masks, number and container splits, plain
// masks shared by DFA state, byte-range DFA rows) must give exactly the masks of the plain
// trie walk, at every byte of sample documents, on every test tokenizer (Qwen3's when the shared
// folder is there, the built-in one always).
import { describe, expect, it } from 'vitest';
import { GrammarMatcher, schemaGrammar } from '../../engine/grammar/mask/matcher.js';
import { TrieWalker } from '../../engine/grammar/mask/trie-walk.js';
import { loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { testTokenizers } from '../support/tokenizers.js';

const cases: [unknown, string[]][] = [
  [
    { type: 'object', properties: { a: { type: 'number', minimum: 0, maximum: 1000 }, b: { type: 'integer', multipleOf: 5 }, c: { type: 'number' } } },
    ['{"a":12.5,"b":-35,"c":1e-3}', '{"c":0.25, "a":999}', '{"b":1000,"x":[1,{"y":null}]}'],
  ],
  [
    { type: 'object', additionalProperties: true },
    ['{"k":"v","n":[1,2,{"m":true}],"e":{},"s":"","a":[]}', '{ "a" : [ "x" , 3 ] }'],
  ],
  [
    { type: 'object', patternProperties: { '^x-': { type: 'string', format: 'email' }, '^n': { type: 'integer' } }, additionalProperties: false },
    ['{"x-mail":"john.doe@example.com","n1":42}'],
  ],
  [
    { type: 'array', items: { anyOf: [{ type: 'string', pattern: '^[a-z]{2,4}$' }, { type: 'number', maximum: 50 }, { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] }] }, maxItems: 4 },
    ['["ab",49.5,{"id":"123e4567-e89b-12d3-a456-426614174000"},"abcd"]'],
  ],
  [
    { type: 'object', properties: { s: { type: 'string', maxLength: 6 }, t: { type: 'string', pattern: 'id-\\d+', maxLength: 12 }, d: { type: 'string', format: 'date-time' } }, required: ['s'] },
    ['{"s":"héllo","t":"my id-12","d":"2024-01-02T03:04:05Z"}'],
  ],
];

describe.each(testTokenizers())('mask engine ($name tokenizer)', ({ dir }) => {
  it('matches the plain trie walk at every byte', () => {
    const vocab = loadGrammarVocab(dir, 151936);
    const walker = new TrieWalker(vocab);
    const enc = new TextEncoder();
    let checked = 0;
    for (const [schema, docs] of cases) {
      const g = schemaGrammar(schema, vocab);
      for (const doc of docs) {
        const m = new GrammarMatcher(g);
        for (const b of enc.encode(doc)) {
          const ref = vocab.newMask();
          walker.walk(vocab.trie, m.states!, ref);
          expect(Array.from(g.engine.mask(m.states!))).toEqual(Array.from(ref));
          checked++;
          expect(m.acceptBytes(Uint8Array.of(b))).toBe(true);
        }
        expect(m.isComplete()).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(300);
  }, 300_000);
});
