/**
 * The grammar constraint of one assistant turn, from the request's tools, tool_choice,
 * parallel_tool_calls and response_format (engine/grammar/tool-call.ts does the work). Every turn
 * is constrained: even plain text turns use it to keep out padding ids and control tokens.
 * Also the backstop: completed calls and JSON answers are re-validated with ajv.
 */
import { GrammarError } from '../../engine/grammar/errors.js';
import type { TokenConstraint } from '../../engine/grammar/mask/matcher.js';
import { createToolCallConstraint, ToolConstraintError, type CallFormat, type ToolChoice } from '../../engine/grammar/tool-call/tool-call.js';
import { xmlValueTyper } from '../../engine/grammar/tool-call/xml-call.js';
import type { XmlValueTyper } from '../../engine/tokens/xml-param-value.js';
import { validateOutput } from '../../engine/grammar/schema/validate-output.js';
import type { GrammarVocab } from '../../engine/grammar/mask/vocab.js';
import type { ToolDefinition } from '../../engine/tokens/messages.js';
import type { ParsedToolCall } from '../../engine/tokens/tool-call-parser.js';
import type { ToolCallFormatSpec } from '../../engine/tokens/tool-call-formats.js';
import { ChatRequestError } from './errors.js';
import type { TurnOptions } from './types.js';

/** Name of a forced tool, or undefined. */
export function forcedToolName(choice: ToolChoice | undefined): string | undefined {
  if (choice === undefined || typeof choice === 'string') return undefined;
  return 'function' in choice ? choice.function?.name : choice.name;
}

/** True when the turn's answer is constrained to JSON (response_format applies: no tools in play). */
export function answersJson(tools: readonly ToolDefinition[], o: TurnOptions): boolean {
  const rf = o.responseFormat;
  return !!rf && rf.type !== 'text' && (tools.length === 0 || o.toolChoice === 'none');
}

/** Checks tool_choice against the tool list; throws ChatRequestError naming the field. */
export function checkToolChoice(tools: readonly ToolDefinition[], o: TurnOptions): void {
  const c = o.toolChoice;
  if (c === undefined || c === 'auto' || c === 'none') return;
  if (tools.length === 0) throw new ChatRequestError(`tool_choice ${JSON.stringify(c)} needs tools, and none are given`, 'tool_choice');
  const name = forcedToolName(c);
  if (c !== 'required' && !tools.some((t) => t.function.name === name)) {
    throw new ChatRequestError(`tool_choice names the function ${JSON.stringify(name)}, which is not among the tools (${tools.map((t) => t.function.name).join(', ')})`, 'tool_choice');
  }
}

/** How the chat template frames the turn: the call body format it writes, and whether its generation prompt opened `<think>`. */
export interface TurnFraming {
  format: CallFormat;
  startInReasoning: boolean;
}

/** Builds the turn's constraint. Throws ChatRequestError for an unusable schema or choice. */
export function turnConstraint(vocab: GrammarVocab, tools: readonly ToolDefinition[], o: TurnOptions, thinking: boolean, framing: TurnFraming = { format: 'json', startInReasoning: false }): TokenConstraint {
  checkToolChoice(tools, o);
  try {
    return createToolCallConstraint(
      {
        tools: tools.map((t) => ({ type: 'function', function: { name: t.function.name, parameters: t.function.parameters } })),
        toolChoice: o.toolChoice,
        parallelToolCalls: o.parallelToolCalls,
        thinking,
        responseFormat: o.responseFormat,
        format: framing.format,
        startInReasoning: framing.startInReasoning,
      },
      vocab,
    );
  } catch (e) {
    if (e instanceof ToolConstraintError) throw new ChatRequestError(e.message, /tool_choice/.test(e.message) ? 'tool_choice' : 'tools');
    if (e instanceof GrammarError) {
      const param = answersJson(tools, o) ? 'response_format' : 'tools';
      throw new ChatRequestError(`${param === 'tools' ? 'a tool parameters schema' : 'response_format schema'} cannot be enforced: ${e.message}`, param);
    }
    throw e;
  }
}

/**
 * How the turn's parser types XML parameter values: as the call grammar of `format` (default Qwen's XML) constrained
 * them (the parser's own schema reading differs for mixed types, enums, $ref, anyOf).
 */
export function callValueTyper(tools: readonly ToolDefinition[], format?: ToolCallFormatSpec): XmlValueTyper {
  const dialect = format?.grammar.kind === 'xml' ? format.grammar.dialect : undefined;
  return xmlValueTyper(tools.map((t) => ({ name: t.function.name, parameters: t.function.parameters ?? { type: 'object', properties: {} } })), dialect);
}

/** Re-validates completed tool calls against their tools' schemas; returns problems (empty when all pass). */
export function checkCalls(tools: readonly ToolDefinition[], calls: readonly ParsedToolCall[]): string[] {
  const out: string[] = [];
  for (const c of calls) {
    const t = tools.find((x) => x.function.name === c.name);
    if (!t) {
      out.push(`tool call ${c.id} names unknown tool ${JSON.stringify(c.name)}`);
      continue;
    }
    const r = validateOutput(t.function.parameters ?? { type: 'object' }, c.argumentsJson);
    if (!r.ok) out.push(`tool call ${c.id} (${c.name}) arguments fail the schema: ${r.error}`);
  }
  return out;
}

/** Re-validates a JSON answer against the response format's schema; returns problems. */
export function checkJsonAnswer(o: TurnOptions, content: string): string[] {
  const rf = o.responseFormat;
  if (!rf || rf.type === 'text') return [];
  const schema = rf.type === 'json_object' ? { type: 'object' } : (rf.json_schema.schema ?? {});
  const r = validateOutput(schema, content);
  return r.ok ? [] : [`the JSON answer fails response_format: ${r.error}`];
}
