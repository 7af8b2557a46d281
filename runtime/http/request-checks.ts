/**
 * Checks that span fields (after the schema passed) and the mapping of OpenAI request fields to the
 * chat layer's TurnOptions. Every refusal is a 400 naming the field.
 */
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../engine/util/json-depth.js';
import { mediaKind, type ChatMessage, type ToolDefinition } from '../../engine/tokens/messages.js';
import type { ResponseFormat, ToolChoice, TurnOptions } from '../chat/types.js';
import { badRequest } from './errors.js';

/** Generation fields common to chat completions and session generate (as validated by the schema). */
export interface GenerationBody {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  tool_choice?: string | Record<string, unknown>;
  parallel_tool_calls?: boolean | null;
  response_format?: ResponseFormat;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  chat_template_kwargs?: Record<string, unknown> | null;
  logit_bias?: Record<string, unknown> | null;
  /** Qwen's top-level switch (below chat_template_kwargs.enable_thinking, above reasoning_effort). */
  enable_thinking?: boolean | null;
  reasoning_effort?: ReasoningEffort | null;
}

/** OpenAI reasoning effort levels. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';

/** Thinking on/off for an effort: 'none' and 'minimal' turn it off, the others on; undefined leaves the template's default. */
export const effortThinking = (e: ReasoningEffort | null | undefined): boolean | undefined => (e == null ? undefined : e !== 'none' && e !== 'minimal');

/**
 * The turn's thinking switch. Precedence: chat_template_kwargs.enable_thinking > enable_thinking >
 * reasoning_effort; none given = the session's kwargs, else the template's default (on).
 */
export function thinkingOf(b: GenerationBody): boolean | undefined {
  const kw = b.chat_template_kwargs?.enable_thinking;
  if (kw !== undefined && typeof kw !== 'boolean') throw badRequest("'chat_template_kwargs.enable_thinking' must be a boolean", 'chat_template_kwargs.enable_thinking');
  return kw ?? opt(b.enable_thinking) ?? effortThinking(b.reasoning_effort);
}

export interface ChatCompletionBody extends GenerationBody {
  model?: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[] | null;
  n?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  session_id?: string;
}

const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/**
 * Role rules: content where required, text-only parts, tool results answer an earlier call, calls
 * name known tools. `prior` is the message already before these (appends to a session).
 */
export function checkMessages(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined, field = 'messages', prior?: ChatMessage): void {
  const names = tools && tools.length ? new Set(tools.map((t) => t.function.name)) : null;
  const open = new Set<string>();
  let lastCalls = prior?.role === 'assistant' && !!prior.tool_calls?.length;
  if (lastCalls) for (const c of prior!.tool_calls!) if (c.id) open.add(c.id);
  messages.forEach((m, i) => {
    const p = `${field}[${i}]`;
    if (Array.isArray(m.content)) {
      m.content.forEach((part, j) => {
        const media = mediaKind(part.type);
        if (media) throw badRequest(`${p}.content[${j}]: ${media} content (part of type '${part.type}') is not supported: the model takes text only`, `${p}.content[${j}].type`, 'unsupported_content');
        if (part.type !== 'text') throw badRequest(`${p}.content[${j}]: content parts of type '${part.type}' are not supported (text only)`, `${p}.content[${j}].type`);
        if (typeof part.text !== 'string') throw badRequest(`${p}.content[${j}].text is required for a text part`, `${p}.content[${j}].text`);
      });
    }
    const hasContent = m.content !== undefined && m.content !== null;
    if ((m.role === 'system' || m.role === 'developer' || m.role === 'user') && !hasContent) throw badRequest(`${p}.content is required for role '${m.role}'`, `${p}.content`);
    if (m.role !== 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null) throw badRequest(`${p}.tool_calls is only allowed on assistant messages`, `${p}.tool_calls`);
    if (m.role === 'assistant') {
      const calls = m.tool_calls ?? [];
      if (!hasContent && calls.length === 0) throw badRequest(`${p}: an assistant message needs content or tool_calls`, `${p}.content`);
      open.clear();
      calls.forEach((c, j) => {
        if (names && !names.has(c.function.name)) throw badRequest(`${p}.tool_calls[${j}] calls unknown tool '${c.function.name}' (not in tools)`, `${p}.tool_calls[${j}].function.name`);
        if (typeof c.function.arguments === 'string' && c.function.arguments.trim() !== '') {
          let parsed: unknown;
          try {
            parsed = JSON.parse(c.function.arguments);
          } catch {
            throw badRequest(`${p}.tool_calls[${j}].function.arguments is not valid JSON`, `${p}.tool_calls[${j}].function.arguments`);
          }
          if (jsonDepthExceeds(parsed)) throw badRequest(`${p}.tool_calls[${j}].function.arguments nests deeper than ${MAX_JSON_DEPTH} levels`, `${p}.tool_calls[${j}].function.arguments`, 'json_too_deep');
        }
        if (c.id) open.add(c.id);
      });
      lastCalls = calls.length > 0;
    } else if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') throw badRequest(`${p}.tool_call_id is required for role 'tool'`, `${p}.tool_call_id`);
      if (!lastCalls) throw badRequest(`${p}: messages with role 'tool' must answer a preceding assistant message with tool_calls`, `${p}.role`);
      if (open.size && !open.has(m.tool_call_id)) throw badRequest(`${p}.tool_call_id '${m.tool_call_id}' matches no tool call of the preceding assistant message`, `${p}.tool_call_id`);
    } else lastCalls = false;
  });
}

/** Tool list rules: unique names. */
export function checkTools(tools: readonly ToolDefinition[] | undefined, field = 'tools'): void {
  const seen = new Set<string>();
  tools?.forEach((t, i) => {
    if (seen.has(t.function.name)) throw badRequest(`${field}[${i}]: duplicate tool name '${t.function.name}'`, `${field}[${i}].function.name`);
    seen.add(t.function.name);
  });
}

function toolChoiceOf(v: GenerationBody['tool_choice']): ToolChoice | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    if (v === 'none' || v === 'auto' || v === 'required') return v;
    throw badRequest(`'tool_choice' must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}, got ${JSON.stringify(v)}`, 'tool_choice');
  }
  const f = v.function as { name?: unknown } | undefined;
  if (v.type !== 'function' || !f || typeof f !== 'object' || typeof f.name !== 'string' || f.name === '') {
    throw badRequest(`'tool_choice' object must be {"type": "function", "function": {"name": "<tool name>"}}`, 'tool_choice');
  }
  return { type: 'function', function: { name: f.name } };
}

/** OpenAI `logit_bias` ({"<token id>": bias in [-100, 100]}) as a map; a bad key or value is a 400 naming it. */
function logitBiasOf(v: GenerationBody['logit_bias']): Map<number, number> | undefined {
  if (v == null) return undefined;
  const out = new Map<number, number>();
  for (const [k, b] of Object.entries(v)) {
    if (!/^(0|[1-9]\d{0,8})$/.test(k)) throw badRequest(`'logit_bias' keys must be token ids (decimal integers), got ${JSON.stringify(k)}`, `logit_bias.${k}`);
    if (typeof b !== 'number' || !(b >= -100 && b <= 100)) throw badRequest(`'logit_bias' values must be numbers in [-100, 100], got ${JSON.stringify(b)} for token ${k}`, `logit_bias.${k}`);
    out.set(Number(k), b);
  }
  return out.size ? out : undefined;
}

/** Maps generation fields to TurnOptions. */
export function turnOptionsOf(b: GenerationBody, signal?: AbortSignal): TurnOptions {
  if (b.max_tokens != null && b.max_completion_tokens != null && b.max_tokens !== b.max_completion_tokens) {
    throw badRequest("'max_tokens' and 'max_completion_tokens' disagree; send one of them", 'max_completion_tokens');
  }
  if (b.stream_options != null && b.stream !== true) throw badRequest("'stream_options' is only allowed when 'stream' is true", 'stream_options');
  const rf = b.response_format;
  if (rf?.type === 'json_schema' && !rf.json_schema) throw badRequest("'response_format.json_schema' is required when type is 'json_schema'", 'response_format.json_schema');
  const stop = b.stop == null ? undefined : typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (stop?.some((s) => s === '')) throw badRequest("'stop' strings must not be empty", 'stop');
  const topK = opt(b.top_k);
  return {
    toolChoice: toolChoiceOf(b.tool_choice),
    parallelToolCalls: opt(b.parallel_tool_calls),
    responseFormat: rf,
    maxTokens: opt(b.max_completion_tokens) ?? opt(b.max_tokens),
    stop,
    enableThinking: thinkingOf(b),
    sampling: {
      temperature: opt(b.temperature), topP: opt(b.top_p), topK: topK === undefined || topK < 0 ? undefined : topK, minP: opt(b.min_p),
      presencePenalty: opt(b.presence_penalty), frequencyPenalty: opt(b.frequency_penalty), repetitionPenalty: opt(b.repetition_penalty),
      seed: opt(b.seed), logitBias: logitBiasOf(b.logit_bias),
    },
    signal,
  };
}

/** Fields of chat completions we do not implement: refused when set to a non-default value. */
export function checkUnsupported(b: ChatCompletionBody): void {
  if (b.n != null && b.n !== 1) throw badRequest(`'n' must be 1: this server returns one choice per request (got ${b.n})`, 'n');
  if (b.logprobs === true) throw badRequest("'logprobs' is not supported", 'logprobs');
  if (b.top_logprobs != null && b.top_logprobs !== 0) throw badRequest("'top_logprobs' is not supported", 'top_logprobs');
}
