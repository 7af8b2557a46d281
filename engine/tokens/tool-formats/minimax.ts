/**
 * MiniMax-M2 / M2.5 tool calls: blocks between `<minimax:tool_call>` and `</minimax:tool_call>`, each holding
 * `<invoke name="f"><parameter name="p">value</parameter></invoke>` calls (minimax-call-body.ts parses a block; a
 * constrained block holds one `<invoke>`, parallel calls are further blocks). Its turns end with `[e~[` only (the
 * model's EOS: other ends would leave the turn open). Chosen for templates that render `<minimax:tool_call>` and
 * `<invoke name=`.
 */
import { MinimaxBlockParser } from '../minimax-call-body.js';
import type { ToolCallFormatSpec } from '../tool-call-formats.js';
import { pythonJson } from '../xml-param-value.js';
import type { XmlDialect } from './xml-dialect.js';

/** MiniMax's `<invoke>` form as the grammar writes and reads it. */
export const MINIMAX_XML: XmlDialect = {
  name: 'minimax',
  callHead: (name) => `\n<invoke name="${name}">\n`,
  paramHead: (key) => `<parameter name="${key}"`,
  freeHead: '<parameter name="',
  nameEnd: 0x22, // '"'
  valueOpen: '>',
  valueClose: '</parameter>\n',
  argsClose: '</invoke>\n',
  forbidden: ['</parameter>', '<parameter name=', '</invoke>', '<invoke name=', '</minimax:tool_call>'],
  readCall: /^\s*<invoke name="([^"\n]+)">/,
  readParam: /^\s*<parameter name="([^"\n]+)">/,
  readEnd: /^\s*<\/invoke>\s*$/,
  valueNewlines: false,
};

export const MINIMAX_FORMAT: ToolCallFormatSpec = {
  name: 'minimax',
  aliases: [],
  priority: 20,
  matches: (source) => source.includes('<minimax:tool_call>') && source.includes('<invoke name='),
  body: 'xml',
  callOpen: '<minimax:tool_call>',
  callClose: '</minimax:tool_call>',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  stopTexts: ['[e~['],
  grammar: { kind: 'xml', dialect: MINIMAX_XML },
  grammarValueTyping: false,
  renderBody: (name, args) =>
    `\n<invoke name="${name}">\n${Object.entries(args).map(([k, v]) => `<parameter name="${k}">${typeof v === 'string' ? v : pythonJson(v)}</parameter>\n`).join('')}</invoke>\n`,
  createBodyParser: (ctx) => new MinimaxBlockParser(ctx),
};
