// Tool-call constraints over Qwen3's framing tokens, on every test tokenizer (Qwen3's when the shared
// folder is there, the built-in one always: both have the framing tokens at Qwen3's ids).
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callGrammar, createToolCallConstraint, ToolConstraintError } from '../../engine/grammar/tool-call/tool-call.js';
import { createSchemaMatcher, type TokenConstraint } from '../../engine/grammar/mask/matcher.js';
import { loadTokenizer } from '../../runtime/bench/grammar/maskbench.js';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { testTokenizers } from '../support/tokenizers.js';
import { feedTokens } from '../support/grammar-walk.js';

const BIN = fileURLToPath(new URL('../../bin/resident.js', import.meta.url));

const CALL = 151657, END_CALL = 151658, IM_END = 151645, THINK = 151667, END_THINK = 151668;

describe.each(testTokenizers())('tool-call constraint (Qwen3 framing, $name tokenizer)', ({ dir: TOK }) => {
  const vocab = loadGrammarVocab(TOK, 151936);
  const encode = loadTokenizer(TOK);
  const tools = [
    { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city'], additionalProperties: false } } },
    { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { enum: ['UTC', 'CET'] } }, required: ['tz'] } } },
  ];
  const feed = (c: TokenConstraint, parts: (string | number)[]) => feedTokens(c, encode, parts);
  const call = (json: string) => [CALL, `\n${json}\n`, END_CALL];

  it('auto: free text, then a call that must match the tool schema, then end of turn', () => {
    const c = createToolCallConstraint({ tools, toolChoice: 'auto' }, vocab);
    expect(c.mask().length).toBe(151936 / 32);
    expect(hasToken(c.mask(), 151700)).toBe(false); // padding ids never allowed
    expect(feed(c, ['Let me check. ', ...call('{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}'), IM_END])).toBe(true);
    expect(c.isTerminated()).toBe(true);
  });

  it('rejects a wrong argument, an unknown tool and a special token inside a string', () => {
    const bad = (json: string) => !feed(createToolCallConstraint({ tools }, vocab), call(json));
    expect(bad('{"name": "get_weather", "arguments": {"city": "Paris", "days": 9}}')).toBe(true);
    expect(bad('{"name": "get_weather", "arguments": {"days": 2}}')).toBe(true);
    expect(bad('{"name": "nope", "arguments": {}}')).toBe(true);
    const c = createToolCallConstraint({ tools }, vocab);
    feed(c, [CALL, '\n{"name": "get_weather", "arguments": {"city": "Pa']);
    expect(hasToken(c.mask(), IM_END)).toBe(false);
    expect(hasToken(c.mask(), END_CALL)).toBe(false);
  });

  it('reuses the compiled call grammar (and its memoized masks) when the same tools come again', () => {
    const norm = tools.map((t) => ('function' in t ? t.function : t) as { name: string; parameters: unknown });
    const g = callGrammar(norm, vocab);
    expect(callGrammar(JSON.parse(JSON.stringify(norm)), vocab)).toBe(g);
    expect(callGrammar(norm.slice(1), vocab)).not.toBe(g);
    const a = createToolCallConstraint({ tools }, vocab);
    const b = createToolCallConstraint({ tools: JSON.parse(JSON.stringify(tools)) }, vocab);
    for (const x of [a, b]) feed(x, [CALL, '\n{"name": "get_time", "arguments": {']);
    expect(b.mask()).toBe(a.mask());
  });

  it('fast-forwards forced spans', () => {
    const c = createToolCallConstraint({ tools: [tools[1]], toolChoice: 'required' }, vocab);
    expect(c.forcedTokens()).toEqual([CALL]);
    c.accept(CALL);
    const forced = Buffer.from(c.forcedBytes()).toString();
    expect(forced).toBe('\n{"name": "get_time", "arguments": ');
    for (const t of c.forcedTokens()) expect(c.accept(t)).toBe(true);
  });

  it('none masks the call tokens; required forbids text; parallel false allows one call', () => {
    const none = createToolCallConstraint({ tools, toolChoice: 'none' }, vocab);
    expect(hasToken(none.mask(), CALL)).toBe(false);
    expect(hasToken(none.mask(), END_CALL)).toBe(false);
    expect(feed(none, ['Just text.', IM_END])).toBe(true);

    const req = createToolCallConstraint({ tools, toolChoice: 'required' }, vocab);
    expect(feed(req, ['Hello'])).toBe(false);
    expect(hasToken(req.mask(), IM_END)).toBe(false);

    const one = createToolCallConstraint({ tools, parallelToolCalls: false }, vocab);
    expect(feed(one, call('{"name": "get_time", "arguments": {"tz": "UTC"}}'))).toBe(true);
    expect(hasToken(one.mask(), CALL)).toBe(false);
    expect(one.isComplete()).toBe(true);

    const two = createToolCallConstraint({ tools }, vocab);
    expect(feed(two, [...call('{"name": "get_time", "arguments": {"tz": "UTC"}}'), '\n', ...call('{"name": "get_time", "arguments": {"tz": "CET"}}'), IM_END])).toBe(true);
  });

  it('named function with thinking first', () => {
    const c = createToolCallConstraint({ tools, toolChoice: { type: 'function', function: { name: 'get_time' } }, thinking: true }, vocab);
    expect(feed(c, [THINK, 'The user wants the time.', END_THINK, '\n\n'])).toBe(true);
    expect(feed(c, call('{"name": "get_weather", "arguments": {"city": "x"}}'))).toBe(false);
    c.rollback(0);
    const d = createToolCallConstraint({ tools, toolChoice: { name: 'get_time' }, thinking: true }, vocab);
    expect(feed(d, [THINK, 'ok', END_THINK, ...call('{"name": "get_time", "arguments": {"tz": "CET"}}'), IM_END])).toBe(true);
    expect(() => createToolCallConstraint({ tools, toolChoice: { name: 'missing' } }, vocab)).toThrow(ToolConstraintError);
  });

  it('response_format json_schema and json_object constrain the whole answer', () => {
    const c = createToolCallConstraint({ responseFormat: { type: 'json_schema', json_schema: { schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } } }, vocab);
    expect(hasToken(c.mask(), IM_END)).toBe(false);
    expect(feed(c, ['{"ok": true}'])).toBe(true);
    expect(c.isComplete()).toBe(true);
    expect(feed(c, [IM_END])).toBe(true);
    const o = createToolCallConstraint({ responseFormat: { type: 'json_object' } }, vocab);
    expect(feed(o, ['[1]'])).toBe(false);
  });

  it('rolls back', () => {
    const c = createToolCallConstraint({ tools }, vocab);
    feed(c, call('{"name": "get_time", "arguments": {"tz": "UTC"}}'));
    const ids = encode('\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n');
    c.rollback(ids.length + 1); // the JSON and </tool_call>
    expect(c.isComplete()).toBe(false);
    expect(feed(c, ['\n{"name": "get_time", "arguments": {"tz": "CET"}}\n', END_CALL])).toBe(true);
    expect(() => c.rollback(1000)).toThrow();
  });

  it('refuses a tool whose schema cannot be honored, naming the tool', () => {
    expect(() => createToolCallConstraint({ tools: [{ name: 't', parameters: { type: 'array', uniqueItems: true } }] }, vocab)).toThrow(SchemaCompileError);
  });

  it('schema matcher: stop token only when complete', () => {
    const m = createSchemaMatcher({ type: 'integer' }, vocab);
    expect(hasToken(m.mask(), IM_END)).toBe(false);
    m.accept(encode('42')[0]);
    expect(hasToken(m.mask(), IM_END)).toBe(true);
    expect(m.accept(IM_END)).toBe(true);
    expect(m.isTerminated()).toBe(true);
  });

  it('resident bench-grammar --json on a folder of MaskBench-format files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-grammar-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ schema: { type: 'object', properties: { n: { type: 'integer', maximum: 5 } } }, tests: [{ valid: true, data: { n: 3 } }, { valid: false, data: { n: 9 } }] }));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ schema: { type: 'array', uniqueItems: true }, tests: [{ valid: true, data: [] }] }));
    const r = spawnSync(process.execPath, [BIN, 'bench-grammar', '--schemas', dir, '--tokenizer', TOK, '--no-anchor', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ files: 2, compiled: 1, refused: 1, valid: { accepted: 1, rejected: 0 }, invalid: { accepted: 0, rejected: 1 } });
    expect(out.maskUs.p50).toBeGreaterThan(0);
    expect(out.compileMs.p50).toBeGreaterThan(0);
    const bad = spawnSync(process.execPath, [BIN, 'bench-grammar'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
  });
});
