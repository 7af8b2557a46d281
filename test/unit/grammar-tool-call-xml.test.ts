import { describe, expect, it } from 'vitest';
import { callGrammar, createToolCallConstraint, type ToolCallOptions } from '../../engine/grammar/tool-call/tool-call.js';
import { TrieWalker } from '../../engine/grammar/mask/trie-walk.js';
import { stepBytes } from '../../engine/grammar/mask/mask-engine.js';
import { canEnd } from '../../engine/grammar/match/value-matcher.js';
import { checkXmlCall, readXmlCall } from '../../engine/grammar/tool-call/xml-call.js';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import type { TokenConstraint } from '../../engine/grammar/mask/matcher.js';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { loadTokenizer } from '../../runtime/bench/grammar/maskbench.js';
import { feedTokens, seeded } from '../support/grammar-walk.js';
import { avoidDfa, notJsonDfa, productDfa } from '../../engine/grammar/regex/text-filters.js';
import { patternDfa, type ByteDfa } from '../../engine/grammar/regex/byte-dfa.js';
import { sharedData } from '../support/shared.js';

const need = sharedData('XML tool-call constraint tests on the Qwen3 vocabulary', 'qwen3-tokenizer');
const [TOK] = need.paths;
const have = !need.skip;

const CALL = 151657, END_CALL = 151658, IM_END = 151645, THINK = 151667, END_THINK = 151668;

const weather = {
  name: 'get_weather',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', minLength: 1 },
      days: { type: 'integer', minimum: 1, maximum: 7 },
      unit: { enum: ['celsius', 'fahrenheit'] },
      note: { type: ['string', 'null'] },
      when: { type: 'string', format: 'date' },
      tags: { type: 'array', items: { type: 'string' } },
      opts: { type: 'object', properties: { verbose: { type: 'boolean' } }, additionalProperties: false },
    },
    required: ['city'],
    additionalProperties: false,
  },
};
const time = { name: 'get_time', parameters: { type: 'object', properties: { tz: { enum: ['UTC', 'CET'] } }, required: ['tz'], additionalProperties: false } };
const scores = { name: 'set_scores', parameters: { type: 'object', properties: { team: { type: 'string' } }, additionalProperties: { type: 'integer' } } };
const tools = [weather, time, scores].map((f) => ({ type: 'function' as const, function: f }));
const defs = [weather, time, scores];

/** The body Qwen's template writes for a call: `\n<function=NAME>\n` + parameters + `</function>\n`. */
function body(name: string, params: [string, string][]): string {
  return `\n<function=${name}>\n${params.map(([k, v]) => `<parameter=${k}>\n${v}\n</parameter>\n`).join('')}</function>\n`;
}
const call = (name: string, params: [string, string][]) => [CALL, body(name, params), END_CALL];

describe.skipIf(!have)('tool-call constraint, XML form (Qwen3.5 / 3.6, Qwen3-Coder)', () => {
  const vocab = have ? loadGrammarVocab(TOK, 151936) : null!;
  const encode = have ? loadTokenizer(TOK) : null!;
  const make = (o: Partial<ToolCallOptions> = {}) => createToolCallConstraint({ tools, format: 'xml', ...o }, vocab);
  const feed = (c: TokenConstraint, parts: (string | number)[]) => feedTokens(c, encode, parts);

  it('accepts the template’s calls token by token and reads them back typed and valid', () => {
    const c = make();
    const params: [string, string][] = [
      ['city', 'New York'], ['days', '3'], ['unit', 'celsius'], ['note', 'first line\n"quoted" \\ <b>bold</b>\n'],
      ['when', '2024-05-01'], ['tags', '["a", "b"]'], ['opts', '{"verbose": true}'],
    ];
    expect(feed(c, ['Let me check.\n\n', ...call('get_weather', params), IM_END])).toBe(true);
    expect(c.isTerminated()).toBe(true);
    const r = checkXmlCall(body('get_weather', params), defs);
    expect(r).toEqual({
      ok: true, name: 'get_weather',
      arguments: { city: 'New York', days: 3, unit: 'celsius', note: 'first line\n"quoted" \\ <b>bold</b>\n', when: '2024-05-01', tags: ['a', 'b'], opts: { verbose: true } },
    });
  });

  it('mixed string/null parameters: JSON where the text reads as JSON, raw text otherwise', () => {
    for (const [text, value] of [['null', null], ['nullable', 'nullable'], ['2024-01-01', '2024-01-01'], ['12 apples', '12 apples'], ['', '']] as const) {
      expect(feed(make(), call('get_weather', [['city', 'x'], ['note', text]]))).toBe(true);
      expect(checkXmlCall(body('get_weather', [['city', 'x'], ['note', text]]), defs)).toMatchObject({ ok: true, arguments: { note: value } });
    }
    // a number is neither a string that cannot read as JSON nor an allowed JSON value
    for (const text of ['123', ' null', '"quoted"', '{"a": 1}', 'true']) expect(feed(make(), call('get_weather', [['city', 'x'], ['note', text]]))).toBe(false);
  });

  it('string parameters keep any text, JSON-looking or not', () => {
    for (const city of ['123', 'null', '{"a": 1}', ' padded ', 'multi\nline']) {
      expect(feed(make(), call('get_weather', [['city', city]]))).toBe(true);
      expect(readXmlCall(body('get_weather', [['city', city]]), defs)).toEqual({ ok: true, name: 'get_weather', arguments: { city } });
    }
  });

  it('masks invalid calls', () => {
    const bad: [string, [string, string][]][] = [
      ['get_wether', [['city', 'x']]],
      ['get_weather', [['country', 'x']]],
      ['get_weather', [['days', '2']]],
      ['get_weather', [['city', 'x'], ['city', 'y']]],
      ['get_weather', [['city', 'x'], ['days', '9']]],
      ['get_weather', [['city', 'x'], ['days', '3.5']]],
      ['get_weather', [['city', 'x'], ['days', 'three']]],
      ['get_weather', [['city', 'x'], ['unit', 'kelvin']]],
      ['get_weather', [['city', 'x'], ['when', '2024-02-30']]],
      ['get_weather', [['city', 'x'], ['when', 'tomorrow']]],
      ['get_weather', [['city', '']]],
      ['get_weather', [['city', 'a</function>b']]],
      ['get_weather', [['city', 'a</tool_call>']]],
      ['get_weather', [['city', 'x'], ['tags', 'a, b']]],
      ['get_weather', [['city', 'x'], ['tags', '["x</parameter>"]']]],
      ['get_weather', [['city', 'x'], ['opts', '{"verbose": "yes"}']]],
      ['get_weather', [['city', 'x'], ['opts', ' {"verbose": true}']]],
      ['set_scores', [['bonus', 'many']]],
      ['set_scores', [['two words', '1']]],
    ];
    for (const [name, params] of bad) expect(feed(make(), call(name, params)), JSON.stringify([name, params])).toBe(false);
    // the newlines around a value are part of the form
    expect(feed(make(), [CALL, '\n<function=get_weather>\n<parameter=city>Paris\n</parameter>\n</function>\n'])).toBe(false);
    expect(feed(make(), [CALL, '\n<function=get_weather>\n<parameter=city>\nParis</parameter>\n</function>\n'])).toBe(false);
    const c = make();
    feed(c, [CALL, '\n<function=get_weather>\n<parameter=city>\nPa']);
    for (const t of [IM_END, END_CALL, CALL]) expect(hasToken(c.mask(), t)).toBe(false);
  });

  it('free parameter names where additionalProperties allows them, typed by it', () => {
    expect(feed(make(), [...call('set_scores', [['team', 'red'], ['bonus', '5'], ['penalty', '-2']]), IM_END])).toBe(true);
    expect(checkXmlCall(body('set_scores', [['team', 'red'], ['bonus', '5']]), defs)).toMatchObject({ ok: true, arguments: { team: 'red', bonus: 5 } });
    expect(feed(make(), call('set_scores', [['bonus', '5'], ['bonus', '6']]))).toBe(false);
  });

  it('tool_choice none, required, named; parallel calls on and off', () => {
    const none = make({ toolChoice: 'none' });
    expect(hasToken(none.mask(), CALL)).toBe(false);
    expect(feed(none, ['Just text.', IM_END])).toBe(true);

    const req = make({ toolChoice: 'required' });
    expect(hasToken(req.mask(), IM_END)).toBe(false);
    expect(feed(req, ['Hello'])).toBe(false);

    const named = make({ toolChoice: { type: 'function', function: { name: 'get_time' } } });
    expect(named.forcedTokens()).toEqual([CALL]);
    named.accept(CALL);
    const forced = Buffer.from(named.forcedBytes()).toString();
    expect(forced).toBe('\n<function=get_time>\n<parameter=tz>\n');
    const ff = named.forcedTokens();
    for (const t of ff) expect(named.accept(t)).toBe(true);
    const rest = forced.slice(Buffer.concat(ff.map((t) => vocab.bytes[t])).length);
    expect(feed(named, [`${rest}CET\n</parameter>\n</function>\n`, END_CALL, IM_END])).toBe(true);
    expect(feed(make({ toolChoice: { name: 'get_time' } }), call('get_weather', [['city', 'x']]))).toBe(false);

    const one = make({ parallelToolCalls: false });
    expect(feed(one, call('get_time', [['tz', 'UTC']]))).toBe(true);
    expect(hasToken(one.mask(), CALL)).toBe(false);
    expect(one.isComplete()).toBe(true);
    const two = make();
    expect(feed(two, [...call('get_time', [['tz', 'UTC']]), '\n', ...call('get_weather', [['city', 'Oslo']]), IM_END])).toBe(true);
  });

  it('thinking first, or starting inside reasoning as Qwen3.5 prompts do', () => {
    const c = make({ toolChoice: 'required', thinking: true });
    expect(feed(c, [THINK, 'The user wants the time.', END_THINK, '\n\n', ...call('get_time', [['tz', 'UTC']]), IM_END])).toBe(true);
    const s = make({ toolChoice: 'required', startInReasoning: true });
    expect(hasToken(s.mask(), THINK)).toBe(false);
    expect(feed(s, ['\nThe user wants the time in Berlin.\n', END_THINK, '\n\n', ...call('get_time', [['tz', 'CET']]), IM_END])).toBe(true);
    const a = make({ startInReasoning: true });
    expect(feed(a, ['hmm', END_THINK, '\n\nIt is sunny.', IM_END])).toBe(true);
  });

  it('rolls back inside a raw value', () => {
    const c = make();
    feed(c, [CALL, '\n<function=get_weather>\n<parameter=city>\nPar']);
    const n = encode('Par').length;
    c.rollback(n);
    expect(feed(c, ['Oslo\n</parameter>\n</function>\n', END_CALL])).toBe(true);
  });

  it('the mask shortcuts for raw text, names and filters give exactly the plain trie walk, at every byte', () => {
    const more = { name: 'm', parameters: { type: 'object', properties: { s: { type: 'string', maxLength: 5 }, p: { type: 'string', pattern: '^[a-z<>/]+$' }, any: {} } } };
    const g = callGrammar([weather, time, scores, more], vocab, 'xml');
    const walker = new TrieWalker(vocab);
    const bodies = [
      body('get_weather', [['city', 'a\n<b>'], ['note', 'null'], ['unit', 'celsius'], ['tags', '["x"]']]),
      body('get_weather', [['note', 'n/a "q"'], ['city', 'Rome\n']]),
      body('set_scores', [['team', ''], ['x1', '-2']]),
      body('m', [['s', 'héllo'], ['p', 'a</b>'], ['any', '{"k": [1]}'], ['free', 'tex\tt']]),
    ];
    let checked = 0;
    for (const text of bodies) {
      let states = g.start();
      for (const b of Buffer.from(text)) {
        const ref = vocab.newMask();
        walker.walk(vocab.trie, states, ref);
        expect(Array.from(g.engine.mask(states)), `${JSON.stringify(text)} at ${checked}`).toEqual(Array.from(ref));
        checked++;
        states = stepBytes(states, Uint8Array.of(b))!;
        expect(states, JSON.stringify(text)).not.toBeNull();
      }
      expect(states.some(canEnd)).toBe(true);
    }
  }, 300_000);

  it('refuses tools the XML form cannot express, naming them', () => {
    const mk = (name: string, parameters: unknown) => () => createToolCallConstraint({ tools: [{ name, parameters }], format: 'xml' }, vocab);
    expect(mk('a>b', { type: 'object' })).toThrow(SchemaCompileError);
    expect(mk('t', { type: 'object', properties: { 'x\ny': { type: 'string' } }, required: ['x\ny'] })).toThrow(/x\\ny/);
    expect(mk('t', { type: 'object', properties: { a: { enum: ['</parameter>'] } }, required: ['a'] })).toThrow(/accepts no value/);
    expect(mk('t', { type: 'object', properties: { a: { type: 'object', properties: { '</function>': {} } } } })).toThrow(/ends an XML tool call/);
    expect(mk('t', { type: 'string' })).toThrow(/object schema/);
    // an optional parameter that cannot be written is left out
    const c = createToolCallConstraint({ tools: [{ name: 't', parameters: { type: 'object', properties: { 'a b ': { type: 'string' }, ok: { type: 'integer' } }, additionalProperties: false } }], format: 'xml' }, vocab);
    expect(feed(c, [CALL, body('t', [['ok', '1']]), END_CALL])).toBe(true);
  });
});

describe('content filters of XML values', () => {
  const run = (d: ByteDfa, s: string) => {
    let q = 0;
    for (const b of Buffer.from(s)) if ((q = d.step(q, b)) < 0) return false;
    return d.accepting[q] === 1;
  };
  const rnd = seeded(7);
  const randomText = (alphabet: string[], n: number) => Array.from({ length: Math.floor(rnd() * n) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');

  it('notJsonDfa passes exactly the texts that do not read as JSON (leading whitespace, { and [ refused outright)', () => {
    const alphabet = ['0', '1', '-', '.', 'e', '+', '"', '\\', 'u', 'a', 'n', 'ul', 'true', 'null', 'None', 'FALSE', ' ', '\n', '\u00a0', '\u3000', '{', '[', 'x', 'é'];
    const cases = ['', 'null', 'NULL', 'null ', 'null\u00a0', 'nullable', '-', '-0', '01', '1.', '1.5e+3', '2024-01-01', '"a"', '"a" b', '"\\u00e9"', '"\\x"', '{}', '[1]', ' x', 'None', 'none of it'];
    for (let i = 0; i < 20000; i++) cases.push(randomText(alphabet, 6));
    const d = notJsonDfa();
    for (const s of cases) {
      let json = true;
      try {
        JSON.parse(s.trim());
      } catch {
        json = false;
      }
      const refusedOutright = /^[\s\u00a0\u3000{[]/.test(s) || /^(true|false|null|none)\s*$/i.test(s);
      expect(run(d, s), JSON.stringify(s)).toBe(!json && !refusedOutright);
    }
  });

  it('avoidDfa refuses exactly the texts containing a word; productDfa intersects', () => {
    const words = ['</parameter>', '<parameter=', '</function>', '</tool_call>'];
    const d = avoidDfa(words);
    const alphabet = ['<', '/', '</', 'parameter', '=', '>', 'function', 'tool_call', 'p', '\n', 'x'];
    for (let i = 0; i < 20000; i++) {
      const s = randomText(alphabet, 8);
      expect(run(d, s), JSON.stringify(s)).toBe(!words.some((w) => s.includes(w)));
    }
    const p = productDfa(patternDfa('^[a-z<>/=_]*$'), d)!;
    for (const s of ['abc', 'a</function>', 'A', '<parameter', '']) expect(run(p, s)).toBe(/^[a-z<>/=_]*$/.test(s) && !words.some((w) => s.includes(w)));
    expect(productDfa(patternDfa('^</function>$'), d)).toBeNull(); // empty intersection
  });
});
