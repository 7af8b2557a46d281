/**
 * The design of engine/tokens/tool-formats/: a tool-call format is one registered module, chosen by the chat
 * template, and the streaming parser and the grammar constraint pick it up without other changes. A throw-away
 * format (calls written `<toy:call>NAME(ARGS)</toy:call>`, its own call tags as added tokens) is registered here only.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasToken, loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { createToolCallConstraint } from '../../engine/grammar/tool-call/tool-call.js';
import { writeBuiltinTokenizer } from '../../engine/synth/builtin-tokenizer.js';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import { registerToolCallFormat, TOOL_CALL_FORMATS, toolCallFormat, toolCallFormatOf, type CallBodyParser, type CallContext, type ParserEvent, type ToolCallFormatSpec } from '../../engine/tokens/tool-call-formats.js';
import { parseAssistantText, ToolCallParser, collectEvents } from '../../engine/tokens/tool-call-parser.js';
import { QWEN3_CHAT_TEMPLATE } from '../../engine/tokens/qwen3-chat-template.js';
import { QWEN35_CHAT_TEMPLATE } from '../../engine/tokens/qwen35-chat-template.js';
import { MINIMAX_CHAT_TEMPLATE } from '../../engine/tokens/minimax-chat-template.js';

/** Reads one `NAME(JSON)` body at close. */
class ToyBodyParser implements CallBodyParser {
  private text = '';
  constructor(private readonly ctx: CallContext) {}
  feed(chunk: string): ParserEvent[] {
    this.text += chunk;
    return [];
  }
  close(): ParserEvent[] {
    const { index, id, start } = this.ctx;
    const m = /^([\w-]+)\((.*)\)$/s.exec(this.text);
    let args: unknown;
    try {
      args = m && JSON.parse(m[2]!);
    } catch {
      args = undefined;
    }
    if (!m || typeof args !== 'object' || args === null) return [{ type: 'tool_call_error', index, message: 'not NAME({…})', position: start }];
    const call = { id, name: m[1]!, arguments: args as Record<string, unknown>, argumentsJson: JSON.stringify(args) };
    return [{ type: 'tool_call_start', index, id, name: call.name }, { type: 'tool_call_args', index, text: call.argumentsJson }, { type: 'tool_call_end', index, call }];
  }
}

const TOY: ToolCallFormatSpec = {
  name: 'toy',
  aliases: [],
  priority: 30,
  matches: (source) => source.includes('<toy:call>'),
  body: 'json',
  callOpen: '<toy:call>',
  callClose: '</toy:call>',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  stopTexts: ['<|endoftext|>'],
  grammar: { kind: 'json', callHead: (name) => `${name}(`, callTail: ')' },
  grammarValueTyping: false,
  renderBody: (name, args) => `${name}(${JSON.stringify(args)})`,
  createBodyParser: (ctx) => new ToyBodyParser(ctx),
};

/** The built-in tokenizer plus the toy call tags as added tokens. */
function toyVocab() {
  const dir = mkdtempSync(join(tmpdir(), 'toy-format-'));
  const f = writeBuiltinTokenizer();
  const tok = JSON.parse(f.tokenizerJson) as { added_tokens: Record<string, unknown>[] };
  ['<toy:call>', '</toy:call>'].forEach((content, i) => tok.added_tokens.push({ id: 151669 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
  writeFileSync(join(dir, 'tokenizer_config.json'), f.tokenizerConfigJson);
  return loadGrammarVocab(dir, 151936);
}

const TOOLS = [{ name: 'get', parameters: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false } }];

describe('tool-call formats: a new format is one registered module', () => {
  const unregister = registerToolCallFormat(TOY);
  afterAll(() => unregister());

  it('the chat template chooses it (above the formats whose markers its template also renders)', () => {
    const source = `{{ '<tool_call>' }}{% for m in messages %}{{ m.content }}{% endfor %}<toy:call>`;
    expect(toolCallFormatOf(source)).toBe(TOY);
    expect(new ChatTemplate(source).toolCallFormat).toBe(TOY);
    expect(toolCallFormat('toy')).toBe(TOY);
    // the built-in templates keep their formats
    expect(toolCallFormatOf(QWEN3_CHAT_TEMPLATE)).toBe(TOOL_CALL_FORMATS.hermes);
    expect(toolCallFormatOf(QWEN35_CHAT_TEMPLATE)).toBe(TOOL_CALL_FORMATS['qwen3-coder']);
    expect(toolCallFormatOf(MINIMAX_CHAT_TEMPLATE)).toBe(TOOL_CALL_FORMATS.minimax);
    expect(() => registerToolCallFormat({ ...TOY, name: 'json' })).toThrow(/taken by hermes/);
    expect(() => toolCallFormat('nope')).toThrow(/unknown tool-call format 'nope' \(hermes, qwen3-coder, minimax, toy\)/);
  });

  it('the streaming parser reads its calls between its tags, whatever the chunking', () => {
    const text = `<think>plan</think>Sure.<toy:call>${TOY.renderBody('get', { a: 1 })}</toy:call><toy:call>get(oops)</toy:call>`;
    const whole = parseAssistantText(text, { format: 'toy', idFactory: (i) => `c${i}` });
    expect(whole).toEqual({
      content: 'Sure.',
      reasoning: 'plan',
      toolCalls: [{ id: 'c0', name: 'get', arguments: { a: 1 }, argumentsJson: '{"a":1}' }],
      errors: [{ index: 1, message: 'not NAME({…})', position: text.lastIndexOf('get(oops)') }],
    });
    const p = new ToolCallParser({ format: TOY, idFactory: (i) => `c${i}` });
    const events = [...text].flatMap((ch) => p.push(ch));
    expect(collectEvents([...events, ...p.finish()])).toEqual(whole);
  });

  it('the grammar constrains its calls: its tags, its body form with the schema, its stop token', () => {
    const vocab = toyVocab();
    const open = vocab.addedTokenId('<toy:call>')!, close = vocab.addedTokenId('</toy:call>')!, stop = vocab.addedTokenId('<|endoftext|>')!;
    const byteToken = new Map<number, number>();
    vocab.bytes.forEach((b, t) => {
      if (b.length === 1 && !vocab.special[t] && !byteToken.has(b[0]!)) byteToken.set(b[0]!, t);
    });
    const c = createToolCallConstraint({ tools: TOOLS, toolChoice: 'required', parallelToolCalls: false, format: 'toy' }, vocab);
    expect(c.forcedTokens()).toEqual([open]);
    expect(hasToken(c.mask(), vocab.addedTokenId('<tool_call>')!)).toBe(false);
    expect(c.accept(open)).toBe(true);
    expect(c.accept(byteToken.get('x'.charCodeAt(0))!)).toBe(false); // only the tool's name starts a body
    const body = 'get({"a": 12})';
    for (const ch of Buffer.from(body)) expect(c.accept(byteToken.get(ch)!), `byte ${String.fromCharCode(ch)}`).toBe(true);
    expect(c.forcedTokens()).toEqual([close]);
    expect(c.accept(close)).toBe(true);
    expect(hasToken(c.mask(), vocab.addedTokenId('<|im_end|>')!)).toBe(false); // the format's stop tokens only
    expect(c.accept(stop)).toBe(true);
    expect(c.isTerminated()).toBe(true);
    expect(parseAssistantText(`<toy:call>${body}</toy:call>`, { format: 'toy', idFactory: () => 'x' }).toolCalls).toEqual([{ id: 'x', name: 'get', arguments: { a: 12 }, argumentsJson: '{"a":12}' }]);
    // the schema is enforced inside its body form: a string where an integer is due is refused
    const d = createToolCallConstraint({ tools: TOOLS, toolChoice: 'required', format: TOY }, vocab);
    expect(d.accept(open)).toBe(true);
    for (const ch of Buffer.from('get({"a": ')) expect(d.accept(byteToken.get(ch)!)).toBe(true);
    expect(d.accept(byteToken.get('"'.charCodeAt(0))!)).toBe(false);
  });
});
