/**
 * Tool-call formats: how a model writes a call between `<tool_call>` and `</tool_call>` — Qwen3 /
 * Hermes JSON (`{"name": …, "arguments": {…}}`) or the XML of Qwen3-Coder and Qwen3.5 / Qwen3.6
 * (`<function=name>\n<parameter=p>\nvalue\n</parameter>\n</function>`) — or calls between `<minimax:tool_call>` and
 * `</minimax:tool_call>` (MiniMax-M2: `<invoke name="f"><parameter name="p">value</parameter></invoke>`, minimax-call-body.ts) — with the events their
 * incremental body parsers produce, and which format a chat template uses. Body parsers never throw on
 * model output: malformed bodies become `tool_call_error` events.
 */
import { HermesBodyParser } from './hermes-call-body.js';
import type { ToolDefinition } from './messages.js';
import { XmlBodyParser } from './xml-call-body.js';
import { MinimaxBlockParser } from './minimax-call-body.js';
import { pythonJson, xmlParamText, type XmlValueTyper } from './xml-param-value.js';

/** A completed tool call. `argumentsJson` is the JSON text of the arguments (what the OpenAI API's `function.arguments` carries). */
export interface ParsedToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  argumentsJson: string;
}

/** Events of the streaming parser. `position` is a character offset in the whole generated text. */
export type ParserEvent =
  | { type: 'content'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_args'; index: number; text: string }
  | { type: 'tool_call_end'; index: number; call: ParsedToolCall }
  | { type: 'tool_call_error'; index: number; message: string; position: number };

/** Parser of one call body, fed in chunks. */
export interface CallBodyParser {
  feed(chunk: string): ParserEvent[];
  close(): ParserEvent[];
}

export interface CallContext {
  index: number;
  id: string;
  /** Offset of the body's first character in the whole generated text. */
  start: number;
  tools?: readonly ToolDefinition[];
  /** Id of a further call a multi-call block (MiniMax) starts at `index` (default: `id` + a suffix). */
  idFor?: (index: number) => string;
  /** XML bodies: how parameter values are typed (default: by the tool's JSON Schema). */
  xmlValues?: XmlValueTyper;
}

/** Tool-call formats: Qwen3 / Qwen2.5 / QwQ (Hermes JSON), Qwen3-Coder and Qwen3.5 / Qwen3.6 (XML), MiniMax-M2 (`<invoke>` XML). */
export type ToolCallFormat = 'hermes' | 'qwen3-coder' | 'minimax';

/** How one format frames and writes a call; what a parser or a grammar of that format needs. */
export interface ToolCallFormatSpec {
  readonly name: ToolCallFormat;
  /** Syntax of the body between `callOpen` and `callClose`. */
  readonly body: 'json' | 'xml';
  /** The body grammar of a constrained call (engine/grammar/tool-call/call-grammar.ts). */
  readonly grammar: 'json' | 'xml' | 'minimax';
  /** Special tokens around a call block (one call, or several for MiniMax); the parser and the constraint use them. */
  readonly callOpen: string;
  readonly callClose: string;
  readonly thinkOpen: '<think>';
  readonly thinkClose: '</think>';
  /**
   * XML bodies: `\n` functionOpen NAME tagEnd `\n` (parameterOpen KEY tagEnd `\n` VALUE `\n` parameterClose `\n`)*
   * functionClose `\n`. VALUE is raw text for string parameters, else the typed value's text (xml-param-value.ts).
   */
  readonly xml?: { functionOpen: '<function='; parameterOpen: '<parameter='; tagEnd: '>'; parameterClose: '</parameter>'; functionClose: '</function>' };
  /** The body the chat template writes for a call (newlines included), i.e. what a model trained on it writes. */
  renderBody(name: string, args: Record<string, unknown>): string;
  /** A parser of one body (MiniMax: of one block, which may hold several calls with consecutive indices). */
  createBodyParser(ctx: CallContext): CallBodyParser;
}

const FRAMING = { callOpen: '<tool_call>', callClose: '</tool_call>', thinkOpen: '<think>', thinkClose: '</think>' } as const;

/** The formats by name. */
export const TOOL_CALL_FORMATS: Readonly<Record<ToolCallFormat, ToolCallFormatSpec>> = {
  hermes: {
    name: 'hermes',
    body: 'json',
    grammar: 'json',
    ...FRAMING,
    renderBody: (name, args) => `\n{"name": ${JSON.stringify(name)}, "arguments": ${pythonJson(args)}}\n`,
    createBodyParser: (ctx) => new HermesBodyParser(ctx),
  },
  'qwen3-coder': {
    name: 'qwen3-coder',
    body: 'xml',
    grammar: 'xml',
    ...FRAMING,
    xml: { functionOpen: '<function=', parameterOpen: '<parameter=', tagEnd: '>', parameterClose: '</parameter>', functionClose: '</function>' },
    renderBody: (name, args) =>
      `\n<function=${name}>\n${Object.entries(args).map(([k, v]) => `<parameter=${k}>\n${xmlParamText(v)}\n</parameter>\n`).join('')}</function>\n`,
    createBodyParser: (ctx) => new XmlBodyParser(ctx),
  },
  minimax: {
    name: 'minimax',
    body: 'xml',
    grammar: 'minimax',
    callOpen: '<minimax:tool_call>',
    callClose: '</minimax:tool_call>',
    thinkOpen: '<think>',
    thinkClose: '</think>',
    renderBody: (name, args) =>
      `\n<invoke name="${name}">\n${Object.entries(args).map(([k, v]) => `<parameter name="${k}">${typeof v === 'string' ? v : pythonJson(v)}</parameter>\n`).join('')}</invoke>\n`,
    createBodyParser: (ctx) => new MinimaxBlockParser(ctx),
  },
};

/**
 * The format a chat template writes tool calls in: MiniMax's when it renders `<minimax:tool_call>` and `<invoke name=`,
 * XML when it renders `<function=` and `<parameter=` tags, Hermes JSON when it renders `<tool_call>` otherwise;
 * undefined for templates without any.
 */
export function toolCallFormatOf(templateSource: string): ToolCallFormatSpec | undefined {
  if (templateSource.includes('<minimax:tool_call>') && templateSource.includes('<invoke name=')) return TOOL_CALL_FORMATS.minimax;
  if (templateSource.includes('<function=') && templateSource.includes('<parameter=')) return TOOL_CALL_FORMATS['qwen3-coder'];
  if (templateSource.includes('<tool_call>')) return TOOL_CALL_FORMATS.hermes;
  return undefined;
}
