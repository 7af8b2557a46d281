// Soundness fuzz: random walks over allowed tokens on function-call schemas (MaskBench
// Glaiveai2K, BFCL_*, JME, MCPspec; a sample) — every completed output parses and passes ajv.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { createSchemaMatcher } from '../../engine/grammar/mask/matcher.js';
import { listSchemaFiles } from '../../runtime/bench/grammar/maskbench.js';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { validateOutput } from '../../engine/grammar/schema/validate-output.js';
import { loadGrammarVocab, type GrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { sharedData } from '../support/shared.js';
import { allowedTokens as allowed, propertyNames, seeded, substringTokens } from '../support/grammar-walk.js';

const need = sharedData('grammar fuzz on MaskBench function-call schemas', 'json-schema/maskbench', 'qwen3-tokenizer');
const [MB, TOK] = need.paths;

describe.skipIf(!!need.skip)('random walks on function-call schemas', () => {
  it('every completed output parses and validates', () => {
    const vocab: GrammarVocab = loadGrammarVocab(TOK, 151936);
    // closing tokens push long walks towards completion: first `"` followed only by `"}]`
    // (ends a string or key), else only `}`/`]` (ends an object or array)
    const closeA = new Uint8Array(vocab.size);
    const closeB = new Uint8Array(vocab.size);
    vocab.bytes.forEach((b, id) => {
      if (vocab.special[id] || !b.length) return;
      const rest = b.every((x) => x === 0x22 || x === 0x7d || x === 0x5d);
      if (rest && b[0] === 0x22) closeA[id] = 1;
      else if (b.every((x) => x === 0x7d || x === 0x5d)) closeB[id] = 1;
    });
    const stop = vocab.addedTokenId('<|im_end|>')!;
    const files = listSchemaFiles(existsSync(`${MB}/data`) ? `${MB}/data` : MB)
      .filter((f) => /\/(Glaiveai2K|BFCL_|JME|MCPspec)/.test(f))
      .filter((_, i) => i % 500 === 0);
    const rnd = seeded(2024);
    let completed = 0;
    let walks = 0;
    for (const path of files) {
      const schema = (JSON.parse(readFileSync(path, 'utf8')) as { schema: unknown }).schema;
      let m;
      try {
        m = createSchemaMatcher(schema, vocab, { stopTokens: [stop] });
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaCompileError);
        continue;
      }
      // tokens spelling part of a quoted property name: lets walks write required keys
      const nameTok = substringTokens(vocab, [...propertyNames(schema)].map((n) => JSON.stringify(n)));
      for (let w = 0; w < 2; w++) {
        walks++;
        m.rollback(m.length);
        const bytes: number[] = [];
        for (let k = 0; k < 250 && !m.isTerminated(); k++) {
          const mask = m.mask();
          let pool = allowed(mask);
          expect(pool.length, `${path}: dead end after ${Buffer.from(bytes).toString()}`).toBeGreaterThan(0);
          if (pool.includes(stop) && rnd() < 0.8) pool = [stop];
          else if (k > 8 && rnd() < 0.85) {
            const named = allowed(mask, nameTok);
            const a = named.length && rnd() < 0.7 ? named : allowed(mask, closeA);
            const b = a.length ? a : allowed(mask, closeB);
            if (b.length) pool = b;
          }
          const id = pool[Math.floor(rnd() * pool.length)];
          expect(m.accept(id)).toBe(true);
          if (id !== stop) bytes.push(...vocab.bytes[id]);
        }
        if (!m.isTerminated()) {
          if (process.env.FUZZ_DEBUG) console.log("INCOMPLETE", path, JSON.stringify(Buffer.from(bytes).toString().slice(-150)));
          continue;
        }
        completed++;
        const text = Buffer.from(bytes).toString('utf8');
        const check = validateOutput(schema, text);
        expect(check.ok, `${path}: ${text} — ${check.ok ? '' : check.error}`).toBe(true);
      }
    }
    console.log(`fuzz: ${files.length} schemas, ${walks} walks, ${completed} completed`);
    expect(completed).toBeGreaterThan(walks / 3);
  }, 300_000);
});
