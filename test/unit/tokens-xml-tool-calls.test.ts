import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import type { ToolDefinition } from '../../engine/tokens/messages.js';
import { QWEN3_CHAT_TEMPLATE } from '../../engine/tokens/qwen3-chat-template.js';
import { QWEN35_CHAT_TEMPLATE } from '../../engine/tokens/qwen35-chat-template.js';
import { TOOL_CALL_FORMATS, toolCallFormatOf } from '../../engine/tokens/tool-call-formats.js';
import { ToolCallParser, collectEvents, parseAssistantText, type ParserEvent, type ToolCallParserOptions } from '../../engine/tokens/tool-call-parser.js';
import { convertXmlParamValue, xmlParamType } from '../../engine/tokens/xml-param-value.js';
import { SHARED_SKIP, TEMPLATES_DIR } from './tokens-shared.js';
import { normalise } from './tokens-events.js';

const TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'edit',
      parameters: {
        type: 'object',
        properties: {
          path: { type: 'string' }, text: { type: 'string' }, line: { type: 'integer' }, ratio: { type: 'number' }, dry: { type: 'boolean' },
          opts: { type: 'object' }, tags: { type: 'array' }, note: { type: ['string', 'null'] }, limit: { anyOf: [{ type: 'integer' }, { type: 'null' }] }, mode: { enum: ['a', 'b'] },
        },
      },
    },
  },
  { type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } },
];
const XML = TOOL_CALL_FORMATS['qwen3-coder'];
const opts: ToolCallParserOptions = { format: XML, tools: TOOLS, idFactory: (i) => `call_${i}` };

function feed(chunks: string[], o: ToolCallParserOptions = opts): ParserEvent[] {
  const p = new ToolCallParser(o);
  return [...chunks.flatMap((c) => p.push(c)), ...p.finish()];
}

/** Same events (merged) for the whole text, every two-piece split, and one UTF-16 unit at a time. */
function expectChunkingInvariant(text: string, o: ToolCallParserOptions = opts): ParserEvent[] {
  const whole = normalise(feed([text], o));
  for (let i = 0; i <= text.length; i++) expect(normalise(feed([text.slice(0, i), text.slice(i)], o)), `split at ${i}`).toEqual(whole);
  expect(normalise(feed([...text].flatMap((ch) => (ch.length === 2 ? [ch[0]!, ch[1]!] : [ch])), o))).toEqual(whole);
  return whole;
}

const call = (name: string, params: [string, string][]) =>
  `<tool_call>\n<function=${name}>\n${params.map(([k, v]) => `<parameter=${k}>\n${v}\n</parameter>\n`).join('')}</function>\n</tool_call>`;

describe('XML tool calls (Qwen3.5 / Qwen3-Coder)', () => {
  it('types parameter values by the schema as Qwen’s parser does', () => {
    const props = (TOOLS[0]!.function.parameters as { properties: Record<string, unknown> }).properties;
    const conv = (key: string | undefined, raw: string) => convertXmlParamValue(raw, xmlParamType(key === undefined ? undefined : props[key]));
    expect(conv('path', '  /a b  ')).toBe('  /a b  ');
    expect(conv('text', 'null')).toBe('null'); // a plain string keeps the text
    expect(conv('note', 'None')).toBeNull(); // a nullable one does not
    expect(conv('note', 'none of it')).toBe('none of it');
    expect([conv('line', ' 42 '), conv('line', '1_000'), conv('line', '4.0'), conv('line', 'null')]).toEqual([42, 1000, '4.0', null]);
    expect([conv('ratio', '2.5'), conv('ratio', '3'), conv('ratio', '1e3'), conv('ratio', '.5'), conv('ratio', 'inf')]).toEqual([2.5, 3, 1000, 0.5, 'inf']);
    expect([conv('dry', 'True'), conv('dry', 'false'), conv('dry', 'yes')]).toEqual([true, false, 'yes']);
    expect(conv('opts', '{"a": [1, {"b": null}]}')).toEqual({ a: [1, { b: null }] });
    expect(conv('opts', "{'a': True, 'b': None, 'c': (1, 2.5), 'd': 'it\\'s'}")).toEqual({ a: true, b: null, c: [1, 2.5], d: "it's" });
    expect(conv('opts', '"{\\"k\\": 1}"')).toEqual({ k: 1 }); // JSON text of a JSON text
    expect(conv('opts', '{not json')).toBe('{not json');
    expect([conv('tags', '["x", 2]'), conv('tags', "['x', 2]")]).toEqual([['x', 2], ['x', 2]]);
    expect([conv('limit', 'None'), conv('limit', '7')]).toEqual([null, 7]);
    expect([conv('mode', 'a'), conv(undefined, '42'), conv(undefined, 'true')]).toEqual(['a', '42', 'true']); // no type, unknown: text
    expect(xmlParamType({ type: ['integer', 'null'] })).toEqual({ kind: 'integer', nullable: true });
    expect(xmlParamType({ type: 'null' })).toEqual({ kind: 'other', nullable: true });
  });

  it('reads back what the Qwen3.5 template writes, for every type', () => {
    const args = {
      path: '/tmp/a b.txt', text: 'line 1\n  line 2 </parameter> not the end\n\n', line: 12, ratio: 0.25, dry: true, opts: { nested: [1, 'x', null], ok: false },
      tags: ['a', "it's"], note: null, limit: null, mode: 'b', extra: 'not in the schema',
    };
    const template = new ChatTemplate(QWEN35_CHAT_TEMPLATE);
    const rendered = template.render([{ role: 'user', content: 'u' }, { role: 'assistant', content: '', tool_calls: [{ function: { name: 'edit', arguments: args } }] }]);
    const body = rendered.slice(rendered.indexOf('<tool_call>') + '<tool_call>'.length, rendered.indexOf('</tool_call>'));
    expect(XML.renderBody('edit', args)).toBe(body);
    const r = parseAssistantText(`<tool_call>${body}</tool_call>`, opts);
    expect(r.errors).toEqual([]);
    expect(r.toolCalls[0]!.arguments).toEqual(args);
    expect(JSON.parse(r.toolCalls[0]!.argumentsJson)).toEqual(args);
    // and Hermes bodies as the Qwen3 template writes them
    const q3 = new ChatTemplate(QWEN3_CHAT_TEMPLATE).render([{ role: 'user', content: 'u' }, { role: 'assistant', content: '', tool_calls: [{ function: { name: 'edit', arguments: args } }] }]);
    expect(q3).toContain(`<tool_call>${TOOL_CALL_FORMATS.hermes.renderBody('edit', args)}</tool_call>`);
  });

  it('separates reasoning, content and calls; the same events for every chunking, surrogate pairs included', () => {
    const text =
      'The user wants an edit 🤔.\n</think>\n\nEditing now — ✅.\n\n' +
      call('edit', [['path', '/tmp/🚀.txt'], ['text', 'a </parameter>\n b\n'], ['line', '7'], ['dry', 'False'], ['opts', '{"k": "v"}']]) +
      '\n' + call('noop', []);
    const events = expectChunkingInvariant(text, { ...opts, startInReasoning: true });
    const r = collectEvents(events);
    expect(r.reasoning).toBe('The user wants an edit 🤔.');
    expect(r.content).toBe('Editing now — ✅.');
    expect(r.errors).toEqual([]);
    expect(r.toolCalls.map((c) => [c.id, c.name, c.arguments])).toEqual([
      ['call_0', 'edit', { path: '/tmp/🚀.txt', text: 'a </parameter>\n b\n', line: 7, dry: false, opts: { k: 'v' } }],
      ['call_1', 'noop', {}],
    ]);
    expect(r.toolCalls[0]!.argumentsJson).toBe('{"path": "/tmp/🚀.txt", "text": "a </parameter>\\n b\\n", "line": 7, "dry": false, "opts": {"k":"v"}}');
    expect(events.map((e) => e.type)).toEqual(['reasoning', 'content', 'tool_call_start', 'tool_call_args', 'tool_call_end', 'tool_call_start', 'tool_call_args', 'tool_call_end']);
  });

  it('streams string values as they arrive and announces the name first', () => {
    const long = 'x'.repeat(40) + '\n' + 'y'.repeat(40);
    const text = call('edit', [['text', long], ['line', '3']]);
    const p = new ToolCallParser(opts);
    const seen: ParserEvent[] = [];
    let argsBeforeClose = 0;
    for (let i = 0; i < text.length; i++) {
      const ev = p.push(text[i]!);
      seen.push(...ev);
      if (!text.slice(0, i + 1).includes('</parameter>')) argsBeforeClose += ev.filter((e) => e.type === 'tool_call_args').length;
    }
    seen.push(...p.finish());
    expect(seen[0]).toEqual({ type: 'tool_call_start', index: 0, id: 'call_0', name: 'edit' });
    expect(argsBeforeClose).toBeGreaterThan(20); // the value streamed before its closing tag
    const args = seen.flatMap((e) => (e.type === 'tool_call_args' ? [e.text] : [])).join('');
    expect(JSON.parse(args)).toEqual({ text: long, line: 3 });
    expect(seen.find((e) => e.type === 'tool_call_end')).toMatchObject({ call: { argumentsJson: args } });
  });

  it('ends a value only at a structural </parameter>, and keeps one inner newline pair', () => {
    const r = parseAssistantText(call('edit', [['text', '\nkeep\n'], ['path', 'p</parameter>x']]), opts);
    expect(r.toolCalls[0]!.arguments).toEqual({ text: '\nkeep\n', path: 'p</parameter>x' });
    const spaced = parseAssistantText('<tool_call>\n<function=edit>\n<parameter=path>\na\n</parameter>   \n\n  <parameter=line>\n5\n</parameter>\n</function>\n</tool_call>', opts);
    expect(spaced.toolCalls[0]!.arguments).toEqual({ path: 'a', line: 5 });
  });

  it('reports malformed bodies at their position, without throwing, and the next call still parses', () => {
    const errorOf = (text: string) => {
      const r = collectEvents(expectChunkingInvariant(text));
      expect(r.errors).toHaveLength(1);
      return r.errors[0]!;
    };
    const pre = '<tool_call>\n';
    expect(errorOf(`${pre}{"name": "edit"}\n</tool_call>`)).toEqual({ index: 0, message: 'tool call has no <function=name> tag', position: pre.length });
    expect(errorOf(`${pre}<function={{ name }}>\n</function>\n</tool_call>`).message).toMatch(/invalid function name/);
    const head = '<function=edit>\n';
    expect(errorOf(`${pre}${head}oops\n<parameter=path>\n/x\n</parameter>\n</function>\n</tool_call>`)).toEqual({ index: 0, message: 'expected <parameter=…> or </function> in tool call', position: pre.length + head.length });
    // text after a </parameter> makes it part of the value: the parameter is then unterminated
    const body = '<function=edit>\n<parameter=path>\n/x\n</parameter>\n';
    expect(errorOf(`${pre}${body}oops\n</function>\n</tool_call>`)).toMatchObject({ message: 'unterminated <parameter> in tool call (parameter "path")', position: pre.length + head.length });
    expect(errorOf(`${pre}${body}</tool_call>`).message).toBe('tool call has no </function>');
    expect(errorOf(`${pre}<function=edit>\n<parameter=path>\n/x\n</function>\n</tool_call>`)).toMatchObject({ position: pre.length + '<function=edit>\n'.length });
    expect(errorOf(`${pre}<function=edit>\n</function>\ntrailing\n</tool_call>`).message).toMatch(/unexpected text after <\/function>/);
    const r = parseAssistantText(`${pre}<function=edit\n</tool_call>\n${call('noop', [])}`, opts);
    expect(r.errors.map((e) => e.message)).toEqual(['unterminated <function=…> tag in tool call']);
    expect(r.toolCalls.map((c) => c.name)).toEqual(['noop']);
  });

  it("chooses the format from the model's chat template", () => {
    expect(toolCallFormatOf(QWEN35_CHAT_TEMPLATE)?.name).toBe('qwen3-coder');
    expect(new ChatTemplate(QWEN35_CHAT_TEMPLATE).toolCallFormat).toBe(XML);
    expect(new ChatTemplate(QWEN3_CHAT_TEMPLATE).toolCallFormat?.name).toBe('hermes');
    expect(toolCallFormatOf('{{ messages[0].content }}')).toBeUndefined();
    // the spec is what a grammar of the format needs
    expect(XML).toMatchObject({ body: 'xml', callOpen: '<tool_call>', callClose: '</tool_call>', grammar: { kind: 'xml', dialect: { freeHead: '<parameter=', argsClose: '</function>\n' } } });
    expect(XML.grammar.kind === 'xml' && XML.grammar.dialect.paramHead('p') + XML.grammar.dialect.valueOpen + 'v' + XML.grammar.dialect.valueClose).toBe('<parameter=p>\nv\n</parameter>\n');
  });

  it.skipIf(!!SHARED_SKIP)("chooses the format of every real chat template in the shared data", () => {
    const expected: Record<string, string | undefined> = {
      'Qwen-Qwen3-0.6B.jinja': 'hermes', 'Qwen-Qwen2.5-7B-Instruct.jinja': 'hermes', 'Qwen-QwQ-32B.jinja': 'hermes',
      'Qwen3-Coder.jinja': 'qwen3-coder', 'Qwen3.5-4B.jinja': 'qwen3-coder', 'MiniMax-M2.jinja': 'minimax',
    };
    for (const [file, name] of Object.entries(expected)) expect(toolCallFormatOf(readFileSync(`${TEMPLATES_DIR}/${file}`, 'utf8'))?.name, file).toBe(name);
  });
});
