// The XML tool-call parser reads every constrained call as the grammar constrained it. Random walks
// under the XML constraint (real Qwen3 vocabulary) on 50 real schemas from the shared MaskBench —
// BFCL functions and GitHub / Snowplow schemas, sent strict-mode style as tool-calls-e2e sends them, whose parameters have mixed types (["string","null"]),
// enums without a type, $ref and anyOf — produce ≥ 500 calls. Each generated text is parsed
// streamed (one token's text at a time, as the runtime's decoder feeds it) and whole, with the
// grammar's value typing injected as the runtime injects it (callValueTyper): both give the same
// calls, the streamed argument deltas concatenate to the arguments JSON, the arguments equal the
// grammar's own reading (readXmlCall), and ajv accepts them against the sent and the original schema. The parser's
// schema-only typing (no injection) is counted against the same calls, to show the cases matter.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { ajvValidator } from '../../engine/grammar/schema/ajv-check.js';
import { createToolCallConstraint } from '../../engine/grammar/tool-call/tool-call.js';
import { compileXmlTool } from '../../engine/grammar/tool-call/xml-args.js';
import { readXmlCall } from '../../engine/grammar/tool-call/xml-call.js';
import type { ToolDefinition } from '../../engine/tokens/messages.js';
import { TOOL_CALL_FORMATS } from '../../engine/tokens/tool-call-formats.js';
import { parseAssistantText, ToolCallParser, type ParsedToolCall, type ToolCallParserOptions } from '../../engine/tokens/tool-call-parser.js';
import { callValueTyper } from '../../runtime/chat/constraint.js';
import { GoalNudge, propertyNames, randomToken, seeded } from '../support/grammar-walk.js';
import { sharedData } from '../support/shared.js';

const need = sharedData('XML parser / grammar agreement on MaskBench schemas', 'json-schema/maskbench', 'qwen3-tokenizer');
const [MB, TOK] = need.paths;

const N_SCHEMAS = 50;
const CALLS_PER_SCHEMA = 10;
const FEATURES = ['typeArray', 'enumNoType', 'ref', 'anyOf', 'mixed', 'function'] as const;
type Feature = (typeof FEATURES)[number];
/** Schemas taken per feature (a schema counts for its first feature in FEATURES order that still has room). */
const QUOTA: Record<Feature, number> = { typeArray: 8, enumNoType: 8, ref: 8, anyOf: 8, mixed: 8, function: 10 };

type Tool = { name: string; parameters: Record<string, unknown>; feature: Feature; validate: (v: unknown) => boolean; validateOriginal: (v: unknown) => boolean };

/** OpenAI strict-mode style (as tool-calls-e2e sends tools): objects that list properties get `additionalProperties: false` unless they say otherwise. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' && v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.properties && typeof out.properties === 'object' && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Parameter-level features of an object schema whose parameters the XML form compiles. */
function featuresOf(schema: Record<string, unknown>): Set<Feature> {
  const out = new Set<Feature>();
  const x = compileXmlTool('t', schema);
  for (const [k, p] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!p || typeof p !== 'object') continue;
    if (Array.isArray(p.type)) out.add('typeArray');
    if (p.enum !== undefined && p.type === undefined) out.add('enumNoType');
    if (p.$ref !== undefined) out.add('ref');
    if (p.anyOf !== undefined || p.oneOf !== undefined) out.add('anyOf');
    if (x.classOf(k) === 'mixed') out.add('mixed');
  }
  return out;
}

/** Candidate parameter schemas of a MaskBench file: BFCL files hold functions under `anyOf[].properties`, the others are one schema. */
function candidates(file: string): Record<string, unknown>[] {
  const s = (JSON.parse(readFileSync(join(MB, file), 'utf8')) as { schema: Record<string, unknown> }).schema;
  if (!file.startsWith('BFCL_')) return [s];
  return ((s.anyOf as Record<string, unknown>[] | undefined) ?? [s]).flatMap((b) => Object.values((b.properties ?? {}) as Record<string, Record<string, unknown>>));
}

/**
 * Schemas in file order whose first feature (FEATURES order) `wanted` accepts; each compiles for XML
 * calls and for ajv. Objects with open parameter names are left out (random walks seldom end their calls).
 */
function* candidateTools(wanted: (feats: Set<Feature>) => Feature | undefined): Generator<Tool> {
  const files = readdirSync(MB).filter((f) => /^(BFCL_(simple|multiple|parallel)|Github_easy|Github_medium|Snowplow)/.test(f)).sort();
  let n = 0;
  for (const f of files) {
    if (statSync(join(MB, f)).size > 6000) continue;
    for (const original of candidates(f)) {
      if (!original || typeof original !== 'object' || original.type !== 'object' || !original.properties || typeof original.properties !== 'object') continue;
      const c = strict(original) as Record<string, unknown>;
      if (c.additionalProperties !== false) continue;
      let feats: Set<Feature>;
      let validate: (v: unknown) => boolean;
      let validateOriginal: (v: unknown) => boolean;
      try {
        feats = featuresOf(c);
        validate = ajvValidator(c) as (v: unknown) => boolean;
        validateOriginal = ajvValidator(original) as (v: unknown) => boolean;
      } catch {
        continue;
      }
      if (f.startsWith('BFCL_')) feats.add('function');
      const feature = wanted(feats);
      if (feature) yield { name: `tool_${n++}`, parameters: c, feature, validate, validateOriginal };
    }
  }
}

/** Goal texts by rank (as the XML fuzz test): what closes calls and values first, then names and values. */
function goals(tool: Tool): string[][] {
  const names = [...propertyNames(tool.parameters)];
  return [
    ['\n</parameter>\n</function>\n', '</function>\n'],
    ['>\n', ...names.flatMap((n) => [`\n</parameter>\n<parameter=${n}>\n`, `<parameter=${n}>\n`])],
    ['"}', '"]', '}', ']', 'null'],
    [...names.map((n) => JSON.stringify(n) + ': '), '0', 'true', '"a"', 'x', `\n<function=${tool.name}>\n`],
  ];
}

const calls = (r: { toolCalls: readonly ParsedToolCall[] }) => r.toolCalls.map((c) => ({ name: c.name, arguments: c.arguments, argumentsJson: c.argumentsJson }));

describe.skipIf(!!need.skip)('XML tool calls: the parser reads what the grammar constrained', () => {
  it(`≥ ${N_SCHEMAS * CALLS_PER_SCHEMA} calls over ${N_SCHEMAS} schemas: streamed = whole, = the grammar's reading, valid`, () => {
    const vocab = loadGrammarVocab(TOK, 151936);
    const ids = { call: vocab.addedTokenId('<tool_call>')!, end: vocab.addedTokenId('</tool_call>')!, stop: vocab.addedTokenId('<|im_end|>')! };
    const rnd = seeded(18);
    const stats = { calls: 0, walks: 0, dropped: 0, mixedValues: 0, schemaTypingInvalid: 0, schemaTypingDiffers: 0 };
    const left = { ...QUOTA };
    const used: Tool[] = [];
    for (const tool of candidateTools((feats) => FEATURES.find((x) => feats.has(x) && left[x] > 0))) {
      const defs: ToolDefinition[] = [{ type: 'function', function: { name: tool.name, parameters: tool.parameters } }];
      const opts: ToolCallParserOptions = { format: TOOL_CALL_FORMATS['qwen3-coder'], tools: defs, xmlValues: callValueTyper(defs), idFactory: (i) => `call_${i}` };
      const nudge = new GoalNudge(vocab, goals(tool));
      const cls = compileXmlTool(tool.name, tool.parameters);
      let got = 0;
      // a schema whose first 8 walks end no call is dropped (its walks are still checked)
      for (let w = 0; got < CALLS_PER_SCHEMA && w < 4 * CALLS_PER_SCHEMA && (got > 0 || w < 8); w++) {
        stats.walks++;
        const c = createToolCallConstraint({ tools: [{ type: 'function', function: { name: tool.name, parameters: tool.parameters } }], format: 'xml', toolChoice: 'required', parallelToolCalls: w % 2 === 0 }, vocab);
        // one walk: token texts as the runtime's decoder would pass them on (special tokens by their text)
        const pieces: string[] = [];
        const utf8 = new TextDecoder('utf-8');
        const tail: number[] = [];
        for (let k = 0; k < 400 && !c.isTerminated(); k++) {
          const mask = c.mask();
          const special = [ids.end, ids.stop, ids.call].filter((t) => hasToken(mask, t));
          let id: number | undefined;
          if (special.length && k > 3 && rnd() < 0.9) id = special[0];
          else if (k > 2 && rnd() < 0.85) id = nudge.pick(mask, tail, rnd);
          id ??= randomToken(mask, rnd);
          expect(id, `${tool.name}: dead end`).toBeDefined();
          expect(c.accept(id!)).toBe(true);
          if (id === ids.stop) break;
          if (id === ids.call || id === ids.end) pieces.push(utf8.decode() + (id === ids.call ? '<tool_call>' : '</tool_call>'));
          else {
            const bytes = vocab.bytes[id!]!;
            pieces.push(utf8.decode(bytes, { stream: true }));
            tail.push(...bytes);
            if (tail.length > 64) tail.splice(0, tail.length - 64);
          }
        }
        const ended = c.isTerminated();
        const text = pieces.join('') + utf8.decode();
        const whole = parseAssistantText(text, opts);
        const p = new ToolCallParser(opts);
        const events = [...pieces.flatMap((x) => p.push(x)), ...p.finish()];
        const streamedArgs = new Map<number, string>();
        for (const e of events) if (e.type === 'tool_call_args') streamedArgs.set(e.index, (streamedArgs.get(e.index) ?? '') + e.text);
        const where = `${tool.name} (${tool.feature}) walk ${w}: ${JSON.stringify(text)}`;
        // a walk cut at its step limit leaves its last call unterminated; nothing else may fail
        expect(whole.errors.filter((e) => ended || !/unterminated/.test(e.message)), where).toEqual([]);
        expect(calls(p), where).toEqual(calls(whole));
        const bodies = [...text.matchAll(/<tool_call>([\s\S]*?)<\/tool_call>/g)].map((m) => m[1]!);
        expect(whole.toolCalls.length, where).toBe(bodies.length);
        whole.toolCalls.forEach((call, i) => {
          expect(streamedArgs.get(i), where).toBe(call.argumentsJson);
          expect(JSON.parse(call.argumentsJson), where).toEqual(JSON.parse(JSON.stringify(call.arguments))); // (-0 reads back as 0)
          const grammar = readXmlCall(bodies[i]!, [{ name: tool.name, parameters: tool.parameters }]);
          expect(grammar, where).toEqual({ ok: true, name: tool.name, arguments: call.arguments });
          expect(tool.validate(call.arguments), `${where}: ${call.argumentsJson}`).toBe(true);
          expect(tool.validateOriginal(call.arguments), `${where}: ${call.argumentsJson}`).toBe(true);
          if (Object.keys(call.arguments).some((k) => cls.classOf(k) === 'mixed')) stats.mixedValues++;
        });
        // the same text read with the parser's schema-only typing (what the runtime used before)
        const schemaOnly = parseAssistantText(text, { ...opts, xmlValues: undefined });
        schemaOnly.toolCalls.forEach((call, i) => {
          if (!tool.validate(call.arguments)) stats.schemaTypingInvalid++;
          else if (JSON.stringify(call.arguments) !== JSON.stringify(whole.toolCalls[i]?.arguments)) stats.schemaTypingDiffers++;
        });
        got += whole.toolCalls.length;
        stats.calls += whole.toolCalls.length;
      }
      if (got < CALLS_PER_SCHEMA) {
        stats.dropped++;
        continue;
      }
      left[tool.feature]--;
      used.push(tool);
      if (used.length === N_SCHEMAS) break;
    }
    const byFeature = Object.fromEntries(FEATURES.map((x) => [x, used.filter((t) => t.feature === x).length]));
    console.log(`XML parser/grammar agreement: ${JSON.stringify(byFeature)} → ${JSON.stringify(stats)}`);
    expect(used.length).toBe(N_SCHEMAS);
    expect(byFeature).toEqual(QUOTA);
    expect(stats.calls).toBeGreaterThanOrEqual(N_SCHEMAS * CALLS_PER_SCHEMA);
    expect(stats.mixedValues).toBeGreaterThan(0);
    // the schema-only reading gets some of these calls wrong: the injected typing is what makes them right
    expect(stats.schemaTypingInvalid + stats.schemaTypingDiffers).toBeGreaterThan(0);
  }, 900_000);
});
