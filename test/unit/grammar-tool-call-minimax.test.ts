/**
 * Grammar-constrained MiniMax-M2 tool calls (`<minimax:tool_call>\n<invoke name="f">\n<parameter name="p">VALUE</parameter>\n…</invoke>\n</minimax:tool_call>`,
 * engine/grammar/tool-call/xml-dialect.ts) over 50 real function-calling schemas from MaskBench (Glaiveai2K, BFCL_*, MCPspec)
 * as tool parameters, on Qwen3's vocabulary plus the MiniMax markers: 10 steered random walks per schema under a forced
 * call, 500 finished calls in all; every call reads back with the grammar's reader and validates against its schema, and
 * the streaming `<minimax:tool_call>` parser (engine/tokens/minimax-call-body.ts) reads the same call, valid, whether fed
 * token by token or whole.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { validateOutput } from '../../engine/grammar/schema/validate-output.js';
import { createToolCallConstraint } from '../../engine/grammar/tool-call/tool-call.js';
import { checkXmlCall } from '../../engine/grammar/tool-call/xml-call.js';
import { MINIMAX_XML } from '../../engine/tokens/tool-formats/minimax.js';
import { minimaxTokenizerFiles } from '../../engine/synth/minimax-tokenizer.js';
import { collectEvents, parseAssistantText, ToolCallParser } from '../../engine/tokens/tool-call-parser.js';
import { listSchemaFiles } from '../../runtime/bench/grammar/maskbench.js';
import { GoalNudge, propertyNames, randomToken, seeded } from '../support/grammar-walk.js';
import { sharedData } from '../support/shared.js';

const need = sharedData('MiniMax tool-call constraint on MaskBench function-call schemas', 'json-schema/maskbench', 'qwen3-tokenizer');
const [MB, QWEN3] = need.paths;
const SCHEMAS = 50;
const CALLS_PER_SCHEMA = 10;

/** A tokenizer folder: Qwen3's vocabulary plus the MiniMax markers (as generated MiniMax models have). */
function minimaxTokenizerDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'minimax-tok-'));
  const f = minimaxTokenizerFiles(readFileSync(join(QWEN3, 'tokenizer.json'), 'utf8'), readFileSync(join(QWEN3, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(dir, 'tokenizer.json'), f.tokenizerJson);
  writeFileSync(join(dir, 'tokenizer_config.json'), f.tokenizerConfigJson);
  return dir;
}

describe.skipIf(!!need.skip)('MiniMax-M2 constrained tool calls over real schemas', () => {
  it(`${SCHEMAS} schemas × ${CALLS_PER_SCHEMA} calls: all parse and validate; streamed = non-streamed`, () => {
    const vocab = loadGrammarVocab(minimaxTokenizerDir(), 151936);
    const ids = { call: vocab.addedTokenId('<minimax:tool_call>')!, end: vocab.addedTokenId('</minimax:tool_call>')!, stop: vocab.addedTokenId('[e~[')! };
    expect(Object.values(ids).every((x) => x !== undefined)).toBe(true);
    const files = listSchemaFiles(existsSync(join(MB, 'data')) ? join(MB, 'data') : MB).filter((f) => /\/(Glaiveai2K|BFCL_|MCPspec)/.test(f));
    const rnd = seeded(2121);
    const specials = new Map([[ids.call, '<minimax:tool_call>'], [ids.end, '</minimax:tool_call>'], [ids.stop, '[e~[']]);
    const dec = (t: number) => {
      if (!vocab.special[t]) return Buffer.from(vocab.bytes[t]!);
      expect(specials.has(t), `special token ${t} in a constrained call`).toBe(true);
      return Buffer.from(specials.get(t)!);
    };
    let schemas = 0, refused = 0, calls = 0, walks = 0;
    for (let fi = 0; fi < files.length && schemas < SCHEMAS; fi += 7) {
      const schema = (JSON.parse(readFileSync(files[fi]!, 'utf8')) as { schema: unknown }).schema;
      const name = `tool_${fi}`;
      const tools = [{ type: 'function' as const, function: { name, description: 'd', parameters: schema as Record<string, unknown> } }];
      let c;
      try {
        c = createToolCallConstraint({ tools, toolChoice: { name }, parallelToolCalls: false, format: 'minimax' }, vocab);
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaCompileError); // a schema the form cannot express is refused by name, never miscompiled
        refused++;
        continue;
      }
      schemas++;
      const names = [...propertyNames(schema)];
      const nudge = new GoalNudge(vocab, [
        ['</parameter>\n</invoke>\n', '</invoke>\n'],
        ['>', ...names.flatMap((n) => [`</parameter>\n<parameter name="${n}">`, `<parameter name="${n}">`])],
        ['"}', '"]', '}', ']'],
        [...names.map((n) => JSON.stringify(n) + ': '), '0', 'true', '"a"', `\n<invoke name="${name}">\n`],
      ]);
      for (let done = 0, tries = 0; done < CALLS_PER_SCHEMA; tries++) {
        expect(tries, `${files[fi]}: calls keep failing to finish`).toBeLessThan(60);
        walks++;
        const out: number[] = [];
        const tail: number[] = [];
        let k = 0;
        for (; k < 1500 && !c.isTerminated(); k++) {
          const mask = c.mask();
          let id: number | undefined;
          const special = [ids.end, ids.stop, ids.call].filter((t) => hasToken(mask, t));
          if (special.length && rnd() < 0.9) id = special[0];
          else if (k > 2 && rnd() < 0.9) id = nudge.pick(mask, tail, rnd);
          id ??= randomToken(mask, rnd);
          expect(id, `dead end after ${JSON.stringify(Buffer.concat(out.map(dec)).toString())}`).toBeDefined();
          expect(c.accept(id!)).toBe(true);
          out.push(id!);
          if (!vocab.special[id!]) {
            tail.push(...vocab.bytes[id!]!);
            if (tail.length > 64) tail.splice(0, tail.length - 64);
          }
        }
        c.rollback(k);
        if (!out.includes(ids.end)) continue; // the walk ran out before the call ended: not a call, try again
        done++;
        calls++;
        const text = Buffer.concat(out.filter((t) => t !== ids.stop).map(dec)).toString('utf8');
        const body = text.slice(text.indexOf('<minimax:tool_call>') + 19, text.indexOf('</minimax:tool_call>'));
        const read = checkXmlCall(body, [{ name, parameters: schema }], MINIMAX_XML);
        expect(read.ok, `${files[fi]}: ${JSON.stringify(body)}: ${read.ok ? '' : read.error}`).toBe(true);
        const whole = parseAssistantText(text, { format: 'minimax', tools, idFactory: (i) => `c${i}` });
        const parser = new ToolCallParser({ format: 'minimax', tools, idFactory: (i) => `c${i}` });
        const td = new TextDecoder();
        const streamed = collectEvents([...out.flatMap((t) => (t === ids.stop ? [] : parser.push(td.decode(dec(t), { stream: true })))), ...parser.finish()]);
        expect(streamed).toEqual(whole);
        expect(whole.errors, JSON.stringify(body)).toEqual([]);
        expect(whole.toolCalls).toHaveLength(1);
        const call = whole.toolCalls[0]!;
        expect(call.name).toBe(name);
        const v = validateOutput(schema, call.argumentsJson);
        expect(v.ok, `${JSON.stringify(body)} → ${call.argumentsJson}: ${v.ok ? '' : v.error}`).toBe(true);
        if (read.ok) expect(call.arguments).toEqual(read.arguments);
      }
    }
    console.log(`MiniMax constrained calls: ${schemas} schemas (${refused} refused), ${walks} walks, ${calls} calls parsed and validated`);
    expect(schemas).toBe(SCHEMAS);
    expect(calls).toBe(SCHEMAS * CALLS_PER_SCHEMA);
  }, 1_200_000);
});
