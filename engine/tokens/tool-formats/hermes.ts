/**
 * Qwen3 / Qwen2.5 / QwQ tool calls (Hermes JSON): `<tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>`.
 * Chosen for templates that render `<tool_call>` (and no more specific format claims them).
 */
import { HermesBodyParser } from '../hermes-call-body.js';
import type { ToolCallFormatSpec } from '../tool-call-formats.js';
import { pythonJson } from '../xml-param-value.js';

export const HERMES_FORMAT: ToolCallFormatSpec = {
  name: 'hermes',
  aliases: ['json'],
  priority: 0,
  matches: (source) => source.includes('<tool_call>'),
  body: 'json',
  callOpen: '<tool_call>',
  callClose: '</tool_call>',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  grammar: { kind: 'json', callHead: (name) => `\n{"name": ${JSON.stringify(name)}, "arguments": `, callTail: '}\n' },
  grammarValueTyping: false,
  renderBody: (name, args) => `\n{"name": ${JSON.stringify(name)}, "arguments": ${pythonJson(args)}}\n`,
  createBodyParser: (ctx) => new HermesBodyParser(ctx),
};
