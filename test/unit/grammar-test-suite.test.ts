// JSON-Schema-Test-Suite (draft2020-12), token by token on Qwen3's vocabulary: per keyword file,
// schemas compile or are refused with SchemaCompileError; no invalid instance is ever accepted.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { GrammarMatcher, schemaGrammar } from '../../engine/grammar/mask/matcher.js';
import { loadTokenizer, sameBytes } from '../../runtime/bench/grammar/maskbench.js';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { sharedData } from '../support/shared.js';

const need = sharedData('JSON-Schema-Test-Suite on Qwen3 tokens', 'json-schema/test-suite/tests/draft2020-12', 'qwen3-tokenizer');
const [SUITE, TOK] = need.paths;

describe.skipIf(!!need.skip)('JSON-Schema-Test-Suite draft2020-12, token level', () => {
  it('never accepts an invalid instance', () => {
    const vocab = loadGrammarVocab(TOK, 151936);
    const encode = loadTokenizer(TOK);
    const rows: string[] = ['file                              schemas compiled refused | valid acc/rej | invalid acc(wrong)/rej'];
    let wrong = 0;
    let inconsistent = 0;
    let skipped = 0;
    for (const file of readdirSync(SUITE).filter((f) => f.endsWith('.json')).sort()) {
      const groups = JSON.parse(readFileSync(`${SUITE}/${file}`, 'utf8')) as { schema: unknown; tests: { data: unknown; valid: boolean }[] }[];
      const r = { compiled: 0, refused: 0, va: 0, vr: 0, ia: 0, ir: 0 };
      for (const g of groups) {
        let grammar;
        try {
          grammar = schemaGrammar(g.schema, vocab);
        } catch (e) {
          expect(e, `${file}: ${(e as Error).stack}`).toBeInstanceOf(SchemaCompileError);
          r.refused++;
          continue;
        }
        r.compiled++;
        for (const t of g.tests) {
          const text = JSON.stringify(t.data);
          const ids = encode(text);
          // NFC normalization in the tokenizer can change the text (e.g. "a\u0308" → "ä"): not this instance any more
          if (!sameBytes(vocab, ids, new TextEncoder().encode(text))) {
            skipped++;
            continue;
          }
          const m = new GrammarMatcher(grammar);
          let ok = true;
          for (const id of ids) {
            const bit = hasToken(m.mask(), id);
            const acc = m.accept(id);
            if (bit !== acc) inconsistent++;
            if (!acc) {
              ok = false;
              break;
            }
          }
          const accepted = ok && m.isComplete();
          if (t.valid) accepted ? r.va++ : r.vr++;
          else accepted ? (r.ia++, wrong++) : r.ir++;
        }
      }
      rows.push(`${file.padEnd(34)} ${String(groups.length).padStart(7)} ${String(r.compiled).padStart(8)} ${String(r.refused).padStart(7)} | ${String(r.va).padStart(5)}/${r.vr} | ${r.ia}/${r.ir}`);
    }
    console.log(rows.join('\n') + `\ninstances skipped (tokenizer normalization changed the text): ${skipped}`);
    expect(inconsistent).toBe(0);
    expect(wrong).toBe(0);
  });
});
