/**
 * Tool-call formats: how a model writes a call between `<tool_call>` and `</tool_call>` — Qwen3 /
 * Hermes JSON (`{"name": …, "arguments": {…}}`) or the XML of Qwen3-Coder and Qwen3.5 / Qwen3.6
 * (`<function=name>\n<parameter=p>\nvalue\n</parameter>\n</function>`) — with the events their
 * incremental body parsers produce, and which format a chat template uses. Body parsers never throw on
 * model output: malformed bodies become `tool_call_error` events.
 */
import { HermesBodyParser } from './hermes-call-body.js';
import type { ToolDefinition } from './messages.js';
import { XmlBodyParser } from './xml-call-body.js';
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
  /** XML bodies: how parameter values are typed (default: by the tool's JSON Schema). */
  xmlValues?: XmlValueTyper;
}

/** Tool-call formats: Qwen3 / Qwen2.5 / QwQ (Hermes JSON) or Qwen3-Coder and Qwen3.5 / Qwen3.6 (XML). */
export type ToolCallFormat = 'hermes' | 'qwen3-coder';

/** How one format frames and writes a call; what a parser or a grammar of that format needs. */
export interface ToolCallFormatSpec {
  readonly name: ToolCallFormat;
  /** Syntax of the body between `callOpen` and `callClose`. */
  readonly body: 'json' | 'xml';
  readonly callOpen: '<tool_call>';
  readonly callClose: '</tool_call>';
  readonly thinkOpen: '<think>';
  readonly thinkClose: '</think>';
  /**
   * XML bodies: `\n` functionOpen NAME tagEnd `\n` (parameterOpen KEY tagEnd `\n` VALUE `\n` parameterClose `\n`)*
   * functionClose `\n`. VALUE is raw text for string parameters, else the typed value's text (xml-param-value.ts).
   */
  readonly xml?: { functionOpen: '<function='; parameterOpen: '<parameter='; tagEnd: '>'; parameterClose: '</parameter>'; functionClose: '</function>' };
  /** The body the chat template writes for a call (newlines included), i.e. what a model trained on it writes. */
  renderBody(name: string, args: Record<string, unknown>): string;
  /** A parser of one body. */
  createBodyParser(ctx: CallContext): CallBodyParser;
}

const FRAMING = { callOpen: '<tool_call>', callClose: '</tool_call>', thinkOpen: '<think>', thinkClose: '</think>' } as const;

/** The formats by name. */
export const TOOL_CALL_FORMATS: Readonly<Record<ToolCallFormat, ToolCallFormatSpec>> = {
  hermes: {
    name: 'hermes',
    body: 'json',
    ...FRAMING,
    renderBody: (name, args) => `\n{"name": ${JSON.stringify(name)}, "arguments": ${pythonJson(args)}}\n`,
    createBodyParser: (ctx) => new HermesBodyParser(ctx),
  },
  'qwen3-coder': {
    name: 'qwen3-coder',
    body: 'xml',
    ...FRAMING,
    xml: { functionOpen: '<function=', parameterOpen: '<parameter=', tagEnd: '>', parameterClose: '</parameter>', functionClose: '</function>' },
    renderBody: (name, args) =>
      `\n<function=${name}>\n${Object.entries(args).map(([k, v]) => `<parameter=${k}>\n${xmlParamText(v)}\n</parameter>\n`).join('')}</function>\n`,
    createBodyParser: (ctx) => new XmlBodyParser(ctx),
  },
};

/**
 * The format a chat template writes tool calls in: XML when it renders `<function=` and `<parameter=`
 * tags, Hermes JSON when it renders `<tool_call>` otherwise; undefined for templates without either.
 */
export function toolCallFormatOf(templateSource: string): ToolCallFormatSpec | undefined {
  if (templateSource.includes('<function=') && templateSource.includes('<parameter=')) return TOOL_CALL_FORMATS['qwen3-coder'];
  if (templateSource.includes('<tool_call>')) return TOOL_CALL_FORMATS.hermes;
  return undefined;
}
