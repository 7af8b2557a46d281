/**
 * Tool-call formats: how a model frames and writes a call (Qwen3 / Hermes JSON, the XML of Qwen3-Coder and
 * Qwen3.5 / 3.6, MiniMax-M2's `<invoke>` blocks, …), the events their incremental body parsers produce, and the
 * registry that picks a chat template's format. One module per format in tool-formats/ owns its markers, stop
 * strings, body parser, grammar form and template detection; the parser (tool-call-parser.ts) and the grammar
 * (engine/grammar/tool-call/) only read the spec. Body parsers never throw on model output: malformed bodies become
 * `tool_call_error` events.
 */
import { EngineArgumentError } from '../errors.js';
import type { ToolDefinition } from './messages.js';
import { HERMES_FORMAT } from './tool-formats/hermes.js';
import { MINIMAX_FORMAT } from './tool-formats/minimax.js';
import { QWEN_XML_FORMAT } from './tool-formats/qwen-xml.js';
import type { XmlDialect } from './tool-formats/xml-dialect.js';
import type { XmlValueTyper } from './xml-param-value.js';

export type { XmlDialect } from './tool-formats/xml-dialect.js';

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

/** A format's name (a registered format's `name` or one of its `aliases`). */
export type ToolCallFormat = string;

/**
 * The grammar of a call body, as data (engine/grammar/tool-call/call-grammar.ts compiles it): JSON `callHead(NAME)`
 * ARGS `callTail`, ARGS the tool's JSON Schema; or an XML-like dialect whose parameter values the schema types.
 */
export type CallBodyGrammar = { kind: 'json'; callHead(name: string): string; callTail: string } | { kind: 'xml'; dialect: XmlDialect };

/** How one format frames and writes a call; what a parser or a grammar of that format needs. */
export interface ToolCallFormatSpec {
  readonly name: string;
  /** Other names it answers to (the grammar's historical 'json' / 'xml'). */
  readonly aliases: readonly string[];
  /** Detection tries formats by descending priority: a format whose templates also render a more general format's markers ranks above it. */
  readonly priority: number;
  /** Whether a chat template's source writes calls in this format. */
  matches(templateSource: string): boolean;
  /** Syntax of the body between `callOpen` and `callClose`. */
  readonly body: 'json' | 'xml';
  /** Special tokens around a call block (one call, or several for MiniMax); the parser and the constraint use them. */
  readonly callOpen: string;
  readonly callClose: string;
  /** The reasoning block's tags (the parser splits reasoning on them; the constraint allows them as tokens). */
  readonly thinkOpen: string;
  readonly thinkClose: string;
  /** Added tokens that end a turn under the constraint; absent: the vocabulary's usual end-of-turn tokens. */
  readonly stopTexts?: readonly string[];
  /** The body grammar of a constrained call. */
  readonly grammar: CallBodyGrammar;
  /** The body parser reads parameter values as the call grammar typed them (CallContext.xmlValues from the grammar's reading). */
  readonly grammarValueTyping: boolean;
  /** The body the chat template writes for a call (newlines included), i.e. what a model trained on it writes. */
  renderBody(name: string, args: Record<string, unknown>): string;
  /** A parser of one body (MiniMax: of one block, which may hold several calls with consecutive indices). */
  createBodyParser(ctx: CallContext): CallBodyParser;
}

/** The built-in formats by name. */
export const TOOL_CALL_FORMATS = { hermes: HERMES_FORMAT, 'qwen3-coder': QWEN_XML_FORMAT, minimax: MINIMAX_FORMAT } as const satisfies Record<string, ToolCallFormatSpec>;

const formats: ToolCallFormatSpec[] = Object.values(TOOL_CALL_FORMATS);

/** Adds a format (its name and aliases must be new). Returns a function that removes it again. */
export function registerToolCallFormat(f: ToolCallFormatSpec): () => void {
  const names = [f.name, ...f.aliases];
  const taken = formats.find((g) => [g.name, ...g.aliases].some((n) => names.includes(n)));
  if (taken) throw new EngineArgumentError(`tool-call format ${f.name}: a name is taken by ${taken.name}`);
  formats.push(f);
  return () => {
    const i = formats.indexOf(f);
    if (i >= 0) formats.splice(i, 1);
  };
}

/** The registered formats. */
export function toolCallFormats(): readonly ToolCallFormatSpec[] {
  return formats;
}

/** A format by name or alias, or the spec itself; throws naming the registered formats for an unknown name. */
export function toolCallFormat(f: ToolCallFormat | ToolCallFormatSpec): ToolCallFormatSpec {
  if (typeof f !== 'string') return f;
  const spec = formats.find((g) => g.name === f || g.aliases.includes(f));
  if (!spec) throw new EngineArgumentError(`unknown tool-call format '${f}' (${formats.map((g) => g.name).join(', ')})`);
  return spec;
}

/** The format a chat template writes tool calls in: the highest-priority registered format that matches it; undefined for templates without any. */
export function toolCallFormatOf(templateSource: string): ToolCallFormatSpec | undefined {
  let best: ToolCallFormatSpec | undefined;
  for (const f of formats) if (f.matches(templateSource) && (!best || f.priority > best.priority)) best = f;
  return best;
}
