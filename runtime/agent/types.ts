/** Shapes of the agent loop: what a run takes, the events it emits, what it returns and records. */

/** How a run ended (or 'running' while it goes, and in the record of a run interrupted by a restart). */
export type AgentRunStatus = 'running' | 'done' | 'max_steps' | 'budget' | 'cancelled' | 'error';

/** A run request (already validated). */
export interface AgentRunRequest {
  /** What the agent should achieve; appended as a user message. */
  goal: string;
  /** Run on this existing session (id or name); default a new session. */
  sessionId?: string;
  /** Extra system instructions (new sessions only). */
  system?: string;
  /**
   * Tool sources: 'builtin' (= 'fetch_url' + 'files'), 'fetch_url', 'files', 'mcp' (every server),
   * 'mcp:<server>', 'skills'. Default: every available source (new sessions) or the session's tools.
   */
  toolSources?: string[];
  /** Tool-executing steps before the run stops (default 8). */
  maxSteps?: number;
  /** Completion budget of one assistant turn (default 512). */
  maxTokens?: number;
  /** Tokens the run may make the engine process (prefilled + generated); default unlimited. */
  tokenBudget?: number;
  /** 'auto' (default) lets the model answer or call; 'required' forces a call on every step but the final one; {name}: a call of that tool. */
  toolChoice?: 'auto' | 'required' | { name: string };
  /** After max steps, one more turn with tools off for a final answer (default true). */
  finalAnswer?: boolean;
  temperature?: number;
  seed?: number;
  enableThinking?: boolean;
  /** Per-tool timeout overriding the tools' own (ms). */
  toolTimeoutMs?: number;
  /** Caps every string argument of the session's tool schemas (new sessions): keeps calls within a turn's budget. */
  maxArgumentChars?: number;
}

/** Token accounting summed over a run's turns. */
export interface AgentUsage {
  turns: number;
  /** Prompt tokens the engine computed (new messages, tool results). */
  prefilled: number;
  /** Prompt tokens already resident and not recomputed. */
  reused: number;
  completionTokens: number;
  /** Tokens in the session when the last turn started. */
  contextTokens: number;
}

/** One executed tool call. */
export interface AgentToolCallRecord {
  step: number;
  id: string;
  name: string;
  /** Arguments JSON as the model wrote it (capped at 2000 characters). */
  arguments: string;
  /** The call ran and returned (possibly a tool-reported error). */
  ok: boolean;
  /** The tool reported a failure, or the call failed (unknown tool, invalid arguments, timeout…). */
  isError: boolean;
  /** Failure kind when `ok` is false. */
  error?: string;
  truncated: boolean;
  durationMs: number;
}

/** What a finished run returns. */
export interface AgentRunResult {
  runId: string;
  sessionId: string;
  status: Exclude<AgentRunStatus, 'running'>;
  /** The final answer text ('' when the run ended without one). */
  answer: string;
  steps: number;
  toolCalls: AgentToolCallRecord[];
  usage: AgentUsage;
  /** Why the run failed or stopped early. */
  error?: string;
  warnings: string[];
}

/** Events of a run, in order; `seq` counts from 0 per run process (a resumed run starts a new sequence). */
export type AgentEventBody =
  | { type: 'run_start'; runId: string; sessionId: string; goal: string; resumed: boolean; step: number; tools: string[] }
  | { type: 'turn_start'; step: number; promptTokens: number; prefilled: number; reused: number }
  | { type: 'content'; step: number; text: string }
  | { type: 'reasoning'; step: number; text: string }
  | { type: 'tool_call'; step: number; index: number; id: string; name: string; arguments: string }
  | { type: 'tool_call_error'; step: number; index: number; message: string }
  | { type: 'turn_end'; step: number; finish: string; completionTokens: number; warnings: string[] }
  | { type: 'tool_result'; step: number; id: string; name: string; ok: boolean; isError: boolean; error?: string; truncated: boolean; durationMs: number; preview: string }
  | { type: 'step_end'; step: number; toolCalls: number }
  | { type: 'run_end'; result: AgentRunResult };

export type AgentEvent = AgentEventBody & { seq: number; time: number };

/** The run's record, kept in its session's settings (`settings.agentRun`) and journaled at every step. */
export interface AgentRunRecord {
  v: 1;
  runId: string;
  goal: string;
  status: AgentRunStatus;
  /** Index of the run's goal message in the session's conversation. */
  startMessage: number;
  /** The normalized request (without goal and session). */
  options: Omit<AgentRunRequest, 'goal' | 'sessionId' | 'system'>;
  /** Tool names the run exposes (the session's tools). */
  tools: string[];
  steps: number;
  toolCalls: AgentToolCallRecord[];
  usage: AgentUsage;
  answer?: string;
  error?: string;
  startedAt: number;
  updatedAt: number;
  /** Times the run was resumed. */
  resumes: number;
  /** System prompt the run's session started with (to re-append it if a restart came before the first turn). */
  system?: string;
}

/** Settings key of the run record. */
export const RUN_RECORD_KEY = 'agentRun';
/** Version of the run record layout. */
export const RUN_RECORD_VERSION = 1;
