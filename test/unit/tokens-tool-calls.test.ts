import { describe, expect, it } from 'vitest';
import { ToolCallParser, collectEvents, parseAssistantText, type ParserEvent, type ToolCallParserOptions } from '../../engine/tokens/tool-call-parser.js';
import type { ToolDefinition } from '../../engine/tokens/messages.js';
import { normalise } from './tokens-events.js';

const ids = { idFactory: (i: number) => `call_${i}` };

/** Feeds text in deltas of 1–3 characters (deterministic pseudo-random sizes). */
function streamed(text: string, opts: ToolCallParserOptions, seed = 1): ParserEvent[] {
  const p = new ToolCallParser(opts);
  const events: ParserEvent[] = [];
  let s = seed;
  for (let i = 0; i < text.length; ) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = 1 + (s % 3);
    events.push(...p.push(text.slice(i, i + n)));
    i += n;
  }
  return [...events, ...p.finish()];
}

function whole(text: string, opts: ToolCallParserOptions): ParserEvent[] {
  const p = new ToolCallParser(opts);
  return [...p.push(text), ...p.finish()];
}

function expectStreamingSame(text: string, opts: ToolCallParserOptions) {
  const w = normalise(whole(text, opts));
  for (const seed of [1, 2, 3, 4, 5]) expect(normalise(streamed(text, opts, seed))).toEqual(w);
  return w;
}

describe('tool-call parser — Qwen3 / Hermes JSON', () => {
  const opts: ToolCallParserOptions = { ...ids };

  it('parses one valid call with reasoning and content around it', () => {
    const text = '<think>\nThe user wants the weather.\n</think>\n\nLet me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "units": "c"}}\n</tool_call>';
    const events = expectStreamingSame(text, opts);
    const r = collectEvents(events);
    expect(r.reasoning).toBe('The user wants the weather.');
    expect(r.content).toBe('Let me look.');
    expect(r.errors).toEqual([]);
    expect(r.toolCalls).toEqual([{ id: 'call_0', name: 'get_weather', arguments: { city: 'Paris', units: 'c' }, argumentsJson: '{"city": "Paris", "units": "c"}' }]);
    const types = events.map((e) => e.type);
    expect(types).toEqual(['reasoning', 'content', 'tool_call_start', 'tool_call_args', 'tool_call_end']);
  });

  it('streams the name before the arguments, and argument fragments concatenate to argumentsJson', () => {
    const text = '<tool_call>\n{"name": "search", "arguments": {"q": "a \\"quoted\\" }{ brace", "n": [1, {"x": 2}]}}\n</tool_call>';
    const events = streamed(text, opts);
    const start = events.findIndex((e) => e.type === 'tool_call_start');
    const firstArgs = events.findIndex((e) => e.type === 'tool_call_args');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(start).toBeLessThan(firstArgs);
    expect(events.filter((e) => e.type === 'tool_call_args').length).toBeGreaterThan(5); // really incremental
    const args = events.flatMap((e) => (e.type === 'tool_call_args' ? [e.text] : [])).join('');
    const end = events.find((e) => e.type === 'tool_call_end');
    expect(end?.type === 'tool_call_end' && end.call.argumentsJson).toBe(args);
    expect(JSON.parse(args)).toEqual({ q: 'a "quoted" }{ brace', n: [1, { x: 2 }] });
  });

  it('parses several calls in one turn, with text between them', () => {
    const text = 'Two lookups.\n<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n<tool_call>\n{"arguments": {"k": 1}, "name": "b"}\n</tool_call>\nDone?';
    const r = collectEvents(expectStreamingSame(text, opts));
    expect(r.toolCalls.map((c) => [c.id, c.name, c.arguments])).toEqual([
      ['call_0', 'a', {}],
      ['call_1', 'b', { k: 1 }],
    ]);
    expect(r.content).toBe('Two lookups.Done?');
  });

  it('reports malformed JSON as a parse error with its position, without throwing', () => {
    const prefix = 'ok\n<tool_call>\n';
    const body = '{"name": "f", "arguments": {"a": 1,, "b": 2}}';
    const text = `${prefix}${body}\n</tool_call>\n<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>`;
    const events = expectStreamingSame(text, opts);
    const err = events.find((e) => e.type === 'tool_call_error');
    expect(err).toBeDefined();
    if (err?.type !== 'tool_call_error') return;
    expect(err.index).toBe(0);
    expect(err.message).toMatch(/malformed tool call JSON/);
    expect(text[err.position]).toBe(','); // points at the second comma
    expect(err.position).toBe(prefix.length + body.indexOf(',,') + 1);
    // the next call still parses
    expect(collectEvents(events).toolCalls.map((c) => c.name)).toEqual(['g']);
  });

  it('reports missing name, non-object arguments and an unterminated call as errors', () => {
    expect(parseAssistantText('<tool_call>\n{"arguments": {}}\n</tool_call>', opts).errors[0]?.message).toMatch(/name/);
    expect(parseAssistantText('<tool_call>\n{"name": "f", "arguments": [1]}\n</tool_call>', opts).errors[0]?.message).toMatch(/arguments/);
    const cut = 'x <tool_call>\n{"name": "f", "argu';
    const r = parseAssistantText(cut, opts);
    expect(r.errors).toEqual([{ index: 0, message: 'unterminated tool call (no </tool_call>)', position: cut.length }]);
    expect(r.content).toBe('x');
    // arguments given as a JSON string are accepted
    expect(parseAssistantText('<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>', opts).toolCalls[0]?.arguments).toEqual({ a: 1 });
  });

  it('handles a prompt that opened the think block, and text that only looks like a tag', () => {
    const r = parseAssistantText('hmm a < b\n</think>\n\nanswer <tool_callx> not a call', { ...opts, startInReasoning: true });
    expect(r.reasoning).toBe('hmm a < b');
    expect(r.content).toBe('answer <tool_callx> not a call');
    expectStreamingSame('a <thin <tool <think>x</think>y', opts);
  });
});

describe('tool-call parser — Qwen3-Coder XML', () => {
  const tools: ToolDefinition[] = [
    { type: 'function', function: { name: 'write_file', parameters: { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' }, mode: { type: 'integer' }, tags: { type: 'array' } } } } },
  ];
  const opts: ToolCallParserOptions = { ...ids, format: 'qwen3-coder', tools };

  it('parses calls with typed parameters and multi-line values, streamed or whole', () => {
    const text =
      'I will write it.\n\n<tool_call>\n<function=write_file>\n<parameter=path>\n/tmp/a.txt\n</parameter>\n<parameter=content>\nline 1\n  line 2 {"x": 1}\n</parameter>\n<parameter=mode>\n644\n</parameter>\n<parameter=tags>\n["a", "b"]\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=noop>\n</function>\n</tool_call>';
    const events = expectStreamingSame(text, opts);
    const r = collectEvents(events);
    expect(r.content).toBe('I will write it.');
    expect(r.errors).toEqual([]);
    expect(r.toolCalls[0]).toEqual({
      id: 'call_0',
      name: 'write_file',
      arguments: { path: '/tmp/a.txt', content: 'line 1\n  line 2 {"x": 1}', mode: 644, tags: ['a', 'b'] },
      argumentsJson: '{"path": "/tmp/a.txt", "content": "line 1\\n  line 2 {\\"x\\": 1}", "mode": 644, "tags": ["a","b"]}',
    });
    expect(JSON.parse(r.toolCalls[0]!.argumentsJson)).toEqual(r.toolCalls[0]!.arguments);
    expect(r.toolCalls[1]).toMatchObject({ name: 'noop', arguments: {}, argumentsJson: '{}' });
    expect(events.findIndex((e) => e.type === 'tool_call_start')).toBeLessThan(events.findIndex((e) => e.type === 'tool_call_args'));
  });

  it('reports a malformed body with its position', () => {
    const prefix = '<tool_call>\n<function=write_file>\n';
    const text = `${prefix}<parameter=path>\n/x\n</function>\n</tool_call>`;
    const r = parseAssistantText(text, opts);
    expect(r.toolCalls).toEqual([]);
    expect(r.errors[0]?.message).toMatch(/unterminated <parameter>/);
    expect(r.errors[0]?.position).toBe(prefix.length);
    expect(parseAssistantText('<tool_call>\n{"name": "f"}\n</tool_call>', opts).errors[0]?.message).toMatch(/<function=name>/);
  });
});
