// Soundness fuzz of the XML tool-call form: random walks over allowed tokens (real Qwen3
// vocabulary) for built-in tools, hand-written tools and a sample of MaskBench function-calling
// schemas (Glaiveai2K, BFCL_*, MCPspec) used as tool parameters — never a dead end, every finished
// call reads back and validates. The same walks in the JSON form give the mask-time reference.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { createToolCallConstraint, type ToolCallOptions } from '../../engine/grammar/tool-call/tool-call.js';
import { checkXmlCall } from '../../engine/grammar/tool-call/xml-call.js';
import { listSchemaFiles, percentile } from '../../runtime/bench/grammar/maskbench.js';
import { createFetchUrlTool } from '../../tools/builtins/fetch-url.js';
import { createFileTools } from '../../tools/builtins/file-tools.js';
import { GoalNudge, propertyNames, randomToken, seeded } from '../support/grammar-walk.js';
import { sharedData } from '../support/shared.js';

/** The built-in formats by their grammar names. */
type CallFormat = 'xml' | 'json' | 'minimax';

const need = sharedData('XML tool-call fuzz on MaskBench function-call schemas', 'json-schema/maskbench', 'qwen3-tokenizer');
const [MB, TOK] = need.paths;
const have = !need.skip;

type ToolDef = { name: string; parameters: unknown };

const HAND: ToolDef[] = [
  { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', minLength: 2, maxLength: 20 }, days: { type: 'integer', minimum: 1, maximum: 7 }, unit: { enum: ['celsius', 'fahrenheit'] }, note: { type: ['string', 'null'] } }, required: ['city'], additionalProperties: false } },
  { name: 'schedule', parameters: { type: 'object', properties: { when: { type: 'string', format: 'date-time' }, who: { type: 'array', items: { type: 'string', format: 'email' }, minItems: 1 }, id: { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[a-z]+$' }] } }, required: ['when', 'who'] } },
  { name: 'set_scores', parameters: { type: 'object', properties: { team: { type: 'string' } }, additionalProperties: { type: 'number' }, maxProperties: 3 } },
];

/** Walk outcome: the text of each call body (between `<tool_call>` and `</tool_call>`), and whether the turn ended. */
interface Walk {
  bodies: string[];
  ended: boolean;
  /** Tokens accepted. */
  steps: number;
}

describe.skipIf(!have)('random walks under the XML tool-call constraint', () => {
  it('never dead-ends; every finished call reads back and validates; mask time near the JSON form', async () => {
    const vocab = loadGrammarVocab(TOK, 151936);
    const root = mkdtempSync(join(tmpdir(), 'xml-fuzz-'));
    const builtin = [createFetchUrlTool(), ...(await createFileTools({ root }))].map((t) => ({ name: t.name, parameters: t.inputSchema }));
    const files = listSchemaFiles(existsSync(`${MB}/data`) ? `${MB}/data` : MB).filter((f) => /\/(Glaiveai2K|BFCL_|MCPspec)/.test(f));
    const sample = files.filter((_, i) => i % 60 === 0).map((f, i) => ({ name: `tool_${i}`, parameters: (JSON.parse(readFileSync(f, 'utf8')) as { schema: unknown }).schema }));
    // tool lists: the built-ins together, the hand-written ones together, MaskBench schemas in threes
    const groups: ToolDef[][] = [builtin, HAND];
    for (let i = 0; i < sample.length; i += 3) groups.push(sample.slice(i, i + 3));
    const ids = { call: vocab.addedTokenId('<tool_call>')!, end: vocab.addedTokenId('</tool_call>')!, stop: vocab.addedTokenId('<|im_end|>')! };
    const rnd = seeded(99);
    const times: Record<CallFormat, number[]> = { xml: [], json: [], minimax: [] };
    let walks = 0, finished = 0, calls = 0, refused = 0;
    const variants: Partial<ToolCallOptions>[] = [
      { toolChoice: 'required', parallelToolCalls: false },
      { toolChoice: 'required', parallelToolCalls: true },
      { toolChoice: 'auto', thinking: true },
    ];

    /** One random walk, steered by `nudge` with probability 0.85 once past the first tokens. */
    const walk = (c: ReturnType<typeof createToolCallConstraint>, format: CallFormat, nudge: GoalNudge): Walk => {
      const bodies: string[] = [];
      const tail: number[] = [];
      let cur: number[] | null = null;
      let k = 0;
      for (; k < 600 && !c.isTerminated(); k++) {
        const t0 = performance.now();
        const mask = c.mask();
        times[format].push(performance.now() - t0);
        const special = (bodies.length ? [ids.end, ids.stop, ids.call] : [ids.end, ids.call, ids.stop]).filter((t) => hasToken(mask, t));
        let id: number | undefined;
        if (special.length && (k > 3 || !hasToken(mask, ids.call)) && rnd() < 0.85) id = special[0];
        else if (k > 3 && rnd() < 0.85) id = nudge.pick(mask, tail, rnd);
        id ??= randomToken(mask, rnd);
        expect(id, `dead end after ${JSON.stringify(Buffer.from(tail).toString())}`).toBeDefined();
        expect(c.accept(id!)).toBe(true);
        if (id === ids.call) cur = [];
        else if (id === ids.end) bodies.push(Buffer.from(cur!).toString('utf8')), (cur = null);
        else if (id! < vocab.bytes.length && !vocab.special[id!]) {
          tail.push(...vocab.bytes[id!]);
          if (cur) cur.push(...vocab.bytes[id!]);
          if (tail.length > 64) tail.splice(0, tail.length - 64);
        }
      }
      return { bodies, ended: c.isTerminated(), steps: k };
    };

    for (const tools of groups) {
      const names = new Set<string>();
      for (const t of tools) for (const n of propertyNames(t.parameters)) names.add(n);
      for (const format of ['xml', 'json'] as const) {
        const nudge = new GoalNudge(vocab, goals(format, tools, names));
        for (const v of variants) {
          let c;
          try {
            c = createToolCallConstraint({ tools: tools.map((t) => ({ type: 'function' as const, function: t })), format, ...v }, vocab);
          } catch (e) {
            expect(e).toBeInstanceOf(SchemaCompileError);
            if (format === 'xml') refused++;
            break;
          }
          for (let w = 0; w < 2; w++) {
            const r = walk(c, format, nudge);
            c.rollback(r.steps);
            if (format === 'json') continue;
            walks++;
            if (r.ended) finished++;
            for (const b of r.bodies) {
              calls++;
              const check = checkXmlCall(b, tools);
              expect(check.ok, `${JSON.stringify(b)}: ${check.ok ? '' : check.error}`).toBe(true);
            }
          }
        }
      }
    }
    const p = (xs: number[], q: number) => percentile(xs, q).toFixed(3);
    console.log(`XML fuzz: ${groups.length} tool lists (${refused} refused), ${walks} walks, ${finished} finished, ${calls} calls validated`);
    console.log(`mask ms — xml: n=${times.xml.length} p50 ${p(times.xml, 50)} p99 ${p(times.xml, 99)}; json: n=${times.json.length} p50 ${p(times.json, 50)} p99 ${p(times.json, 99)}`);
    expect(calls).toBeGreaterThan(walks / 3);
    expect(finished).toBeGreaterThan(walks / 3);
  }, 900_000);
});

/** Goal texts of a format by rank: what closes calls, parameters and values first, then names, values, call openings. */
function goals(format: CallFormat, tools: ToolDef[], names: Set<string>): string[][] {
  const quoted = [...names].map((n) => JSON.stringify(n) + ': ');
  const values = ['0', 'true', '"a"'];
  if (format === 'xml') {
    return [
      ['\n</parameter>\n</function>\n', '</function>\n'],
      ['>\n', ...[...names].flatMap((n) => [`\n</parameter>\n<parameter=${n}>\n`, `<parameter=${n}>\n`])],
      ['"}', '"]', '}', ']'],
      [...quoted, ...values, ...tools.map((t) => `\n<function=${t.name}>\n`)],
    ];
  }
  return [['}\n', '}}\n'], ['"}', '"]', '}', ']'], quoted, [...values, ...tools.map((t) => `\n{"name": ${JSON.stringify(t.name)}, "arguments": {`)]];
}
