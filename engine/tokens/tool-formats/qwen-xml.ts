/**
 * The XML tool calls of Qwen3-Coder and Qwen3.5 / Qwen3.6, between `<tool_call>` and `</tool_call>`:
 *   `\n<function=NAME>\n` (`<parameter=KEY>\nVALUE\n</parameter>\n`)* `</function>\n`
 * Chosen for templates that render `<function=` and `<parameter=` tags (they also render `<tool_call>`, so this
 * format ranks above Hermes JSON). The parser reads values as the call grammar typed them.
 */
import type { ToolCallFormatSpec } from '../tool-call-formats.js';
import { XmlBodyParser } from '../xml-call-body.js';
import { xmlParamText } from '../xml-param-value.js';
import type { XmlDialect } from './xml-dialect.js';

/** Qwen's XML form as the grammar writes and reads it. */
export const QWEN_XML: XmlDialect = {
  name: 'qwen',
  callHead: (name) => `\n<function=${name}>\n`,
  paramHead: (key) => `<parameter=${key}>`,
  freeHead: '<parameter=',
  nameEnd: 0x3e, // '>'
  valueOpen: '\n',
  valueClose: '\n</parameter>\n',
  argsClose: '</function>\n',
  forbidden: ['</parameter>', '<parameter=', '</function>', '</tool_call>'],
  readCall: /^\s*<function=([^>\n]+)>\n?/,
  readParam: /^\s*<parameter=([^>\n]+)>\n?/,
  readEnd: /^\s*<\/function>\s*$/,
  valueNewlines: true,
};

export const QWEN_XML_FORMAT: ToolCallFormatSpec = {
  name: 'qwen3-coder',
  aliases: ['xml'],
  priority: 10,
  matches: (source) => source.includes('<function=') && source.includes('<parameter='),
  body: 'xml',
  callOpen: '<tool_call>',
  callClose: '</tool_call>',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  grammar: { kind: 'xml', dialect: QWEN_XML },
  grammarValueTyping: true,
  renderBody: (name, args) =>
    `\n<function=${name}>\n${Object.entries(args).map(([k, v]) => `<parameter=${k}>\n${xmlParamText(v)}\n</parameter>\n`).join('')}</function>\n`,
  createBodyParser: (ctx) => new XmlBodyParser(ctx),
};
