/** Types of the assistant-turn runner: what a turn takes, the events it yields, what it returns. */
import type { ResponseFormat, ToolChoice } from '../../engine/grammar/tool-call/tool-call.js';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import type { ParsedToolCall } from '../../engine/tokens/tool-call-parser.js';

export type { ResponseFormat, ToolChoice } from '../../engine/grammar/tool-call/tool-call.js';

/** Sampling parameters of a turn (OpenAI names mapped to the sampler's). */
export interface TurnSampling {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repetitionPenalty?: number;
  /** PRNG seed; default a fresh random seed per turn. */
  seed?: number;
  /** Token id → bias added to its logit (OpenAI `logit_bias`, values in [−100, 100]); never unmasks a token the grammar forbids. */
  logitBias?: ReadonlyMap<number, number>;
}

/** Options of one assistant turn. */
export interface TurnOptions {
  /** 'none' forbids tool calls, 'required' forces at least one, a named function forces that one. Default 'auto' when the session has tools. */
  toolChoice?: ToolChoice;
  /** Several calls in one turn (default true). */
  parallelToolCalls?: boolean;
  /** Constrains the answer to one JSON value (json_object, or json_schema's schema). */
  responseFormat?: ResponseFormat;
  /** Completion budget; default the runner's default, clamped to the room left in the slot. More than the room → ContextOverflowError. */
  maxTokens?: number;
  sampling?: TurnSampling;
  /** Strings that end the answer (not included in it). */
  stop?: string[];
  /** Qwen3 `enable_thinking` for this turn's generation prompt (default: the session's kwargs, else the template's default, on). */
  enableThinking?: boolean;
  /** Cancels the turn at the next engine step (the turn finishes with reason 'aborted'). */
  signal?: AbortSignal;
  priority?: number;
  /** Tool-call ids; default `call_` + random hex. */
  idFactory?: (index: number) => string;
}

/** Token accounting of one turn. */
export interface TurnUsage {
  /** Tokens in context when generation started (history + new messages + generation prompt). */
  promptTokens: number;
  /** Prompt tokens the engine computed in this turn. */
  prefilled: number;
  /** Prompt tokens whose K/V was already resident or restored from disk (promptTokens − prefilled). */
  reused: number;
  /** Sampled tokens (the stop token included). */
  completionTokens: number;
}

export type TurnFinish = 'stop' | 'length' | 'tool_calls' | 'aborted';

/** Outcome of a turn. */
export interface TurnResult {
  sessionId: string;
  finish: TurnFinish;
  /** The assistant message as an OpenAI client sees (and resends) it. */
  message: ChatMessage & { role: 'assistant' };
  toolCalls: ParsedToolCall[];
  usage: TurnUsage;
  /** Generated ids. */
  tokens: number[];
  /** Problems that did not fail the turn (malformed tool call, output that failed re-validation…). */
  warnings: string[];
  /** The stop string that ended the answer (finish 'stop'), if one did. */
  stopString?: string;
  /** Token position where the session's conversation ends after this turn (undefined when the turn was cancelled and not recorded). */
  end?: number;
  /** Wall times in ms from the turn's start (before its prompt is appended): first sampled token, end. */
  timing?: { firstTokenMs: number | null; totalMs: number };
}

/**
 * Events of a turn, in order: one `start` (after the prompt is in the KV slot), any number of text
 * and tool-call events, then exactly one `finish`. Tool-call events carry the call index; a call's
 * `args` deltas concatenate to its final `arguments` JSON text.
 */
export type TurnEvent =
  | { type: 'start'; sessionId: string; promptTokens: number; prefilled: number; reused: number }
  | { type: 'content'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_args'; index: number; text: string }
  | { type: 'tool_call_end'; index: number; call: ParsedToolCall }
  | { type: 'tool_call_error'; index: number; message: string }
  | { type: 'finish'; result: TurnResult };

/** Report of an append without generation. */
export interface AppendReport {
  sessionId: string;
  /** Tokens appended. */
  tokens: number;
  /** Tokens the engine computed (the append plus any un-fed tail). */
  prefilled: number;
  /** Session length after the append. */
  tokenCount: number;
  /** Index of the first appended message in the session's conversation. */
  firstMessage: number;
}
