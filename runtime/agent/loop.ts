/**
 * The agent loop on one session (the caller holds the session's turn lock):
 *   generate (tool calls grammar-constrained) → run the calls (in parallel, per-tool timeout,
 *   result cap with a truncation note; failures become error results, never exceptions) → the
 *   results become one tool-message group appended in the next turn's prefill (only those tokens
 *   are computed) → … until a final answer, max steps (then one turn with tools off for the
 *   answer), the token budget, the context window, or cancellation.
 * Every step is an event and is journaled with the session (the run record in its settings), so a
 * run on a persisted session resumes after a restart: the conversation says where it stands.
 */
import { InvariantError } from '../../engine/util/resident-error.js';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import type { ToolRegistry } from '../../tools/index.js';
import { ContextOverflowError } from '../chat/errors.js';
import type { ChatRunner } from '../chat/runner.js';
import type { TurnOptions, TurnResult } from '../chat/types.js';
import { completedSteps, nextAction, writeRunRecord, type PendingCall } from './run-record.js';
import type { AgentEventBody, AgentRunRecord, AgentRunResult, AgentToolCallRecord } from './types.js';

export const DEFAULT_MAX_STEPS = 8;
export const DEFAULT_TURN_TOKENS = 512;
const MAX_RECORDED_CALLS = 200;

/** Abort reason of runs stopped because the server shuts down. */
export const SHUTDOWN = 'shutdown';
const PREVIEW_CHARS = 300;

/** One run of the loop. `record` is updated in place and persisted at every step. */
export interface LoopRun {
  runner: ChatRunner;
  registry: ToolRegistry;
  session: Session;
  record: AgentRunRecord;
  /** Messages of the run's first turn (system and/or goal); undefined when resuming past them. */
  initial?: ChatMessage[];
  signal: AbortSignal;
  emit: (e: AgentEventBody) => void;
}

type Ended = AgentRunResult['status'];

/** Runs (or resumes) the loop to its end; never throws for tool or request failures (status 'error'). */
export async function runAgentLoop(run: LoopRun): Promise<AgentRunResult> {
  const { session, record: rec, signal, emit } = run;
  const o = rec.options;
  const maxSteps = o.maxSteps ?? DEFAULT_MAX_STEPS;
  const warnings: string[] = [];
  let pendingMessages: ChatMessage[] | undefined = run.initial;
  let answer = '';
  let status: Ended | undefined;
  let error: string | undefined;
  let cutCalls = 0;
  rec.steps = completedSteps(session, rec.startMessage);

  const finish = async (s: Ended, why?: string): Promise<AgentRunResult> => {
    // A run stopped by a server shutdown stays 'running' in its record: it shows as interrupted and resumes after the restart.
    rec.status = s === 'cancelled' && signal.reason === SHUTDOWN ? 'running' : s;
    rec.answer = answer;
    if (why) rec.error = why;
    else delete rec.error;
    await writeRunRecord(session, rec).catch((e: Error) => warnings.push(`could not record the run's end: ${e.message}`));
    return { runId: rec.runId, sessionId: session.id, status: s, answer, steps: rec.steps, toolCalls: rec.toolCalls, usage: rec.usage, ...(why ? { error: why } : {}), warnings };
  };

  try {
    for (;;) {
      if (signal.aborted) return await finish('cancelled', 'the run was cancelled');
      const next = pendingMessages ? { kind: 'generate' as const } : nextAction(session, rec.startMessage);
      if (next.kind === 'done') {
        answer = next.answer;
        return await finish(rec.steps >= maxSteps ? 'max_steps' : 'done');
      }
      if (next.kind === 'tools') {
        const final = rec.steps >= maxSteps;
        if (final && o.finalAnswer === false) return await finish('max_steps', `stopped after ${maxSteps} tool steps`);
        pendingMessages = await runTools(run, next.calls);
        if (signal.aborted) return await finish('cancelled', 'the run was cancelled during tool calls');
        continue;
      }
      // generate
      const spent = rec.usage.prefilled + rec.usage.completionTokens;
      if (o.tokenBudget !== undefined && spent >= o.tokenBudget) return await finish('budget', `the token budget of ${o.tokenBudget} is spent (${spent})`);
      const final = rec.steps >= maxSteps;
      const turnTokens = Math.min(o.maxTokens ?? DEFAULT_TURN_TOKENS, o.tokenBudget !== undefined ? Math.max(1, o.tokenBudget - spent) : Infinity);
      const opts: TurnOptions = {
        toolChoice: session.state.tools.length ? (final ? 'none' : (o.toolChoice ?? 'auto')) : undefined,
        maxTokens: turnTokens,
        enableThinking: o.enableThinking,
        sampling: { temperature: o.temperature, seed: o.seed !== undefined ? o.seed + rec.usage.turns : undefined },
        signal,
      };
      let r: TurnResult;
      cutCalls = 0;
      try {
        r = await turn(run, pendingMessages ?? [], opts, () => cutCalls++);
      } catch (e) {
        if (!(e instanceof ContextOverflowError)) throw e;
        if (e.param === 'max_tokens') r = await turn(run, pendingMessages ?? [], { ...opts, maxTokens: undefined }, () => cutCalls++);
        else return await finish('budget', `the context window is full: ${e.message}`);
      }
      pendingMessages = undefined;
      warnings.push(...r.warnings);
      if (r.finish === 'aborted') return await finish('cancelled', 'the run was cancelled during generation');
      answer = typeof r.message.content === 'string' ? r.message.content : '';
      if (!final && r.toolCalls.length === 0 && r.finish === 'length' && cutCalls > 0) {
        // A call cut off by max_tokens: tell the model (as a failed step) instead of ending the run.
        warnings.push(`step ${rec.steps}: a tool call was cut off at max_tokens (${opts.maxTokens ?? 'default'})`);
        emit({ type: 'step_end', step: rec.steps, toolCalls: 0 });
        rec.steps++;
        await writeRunRecord(session, rec);
        pendingMessages = [{ role: 'user', content: cutCallNote(opts.maxTokens) }];
        continue;
      }
      if (final || r.toolCalls.length === 0) {
        if (r.finish === 'length') warnings.push(`step ${rec.steps}: the answer hit max_tokens`);
        return await finish(final ? 'max_steps' : 'done');
      }
      answer = '';
      await writeRunRecord(session, rec);
    }
  } catch (e) {
    if (signal.aborted) status = 'cancelled';
    else status = 'error';
    error = `${(e as Error).name}: ${(e as Error).message}`;
    return await finish(status, error);
  }
}

/** Prefix of the note that answers a cut-off tool call (also how resumption recognises such a step). */
export const CUT_CALL_NOTE = '[agent] Your tool call was cut off';

const cutCallNote = (maxTokens: number | undefined) =>
  `${CUT_CALL_NOTE} at the turn's token limit (${maxTokens ?? 'default'} tokens) before it was complete, so it did not run. Call the tool again with shorter arguments, or answer without tools.`;

/** One assistant turn; forwards its events with the step number and adds its usage to the record. */
async function turn(run: LoopRun, messages: readonly ChatMessage[], opts: TurnOptions, onCallError: () => void): Promise<TurnResult> {
  const { record: rec, emit } = run;
  const step = rec.steps;
  for await (const e of run.runner.turnLocked(run.session, messages, opts)) {
    switch (e.type) {
      case 'start':
        rec.usage.turns++;
        rec.usage.prefilled += e.prefilled;
        rec.usage.reused += e.reused;
        rec.usage.contextTokens = e.promptTokens;
        emit({ type: 'turn_start', step, promptTokens: e.promptTokens, prefilled: e.prefilled, reused: e.reused });
        break;
      case 'content':
      case 'reasoning':
        emit({ type: e.type, step, text: e.text });
        break;
      case 'tool_call_end':
        emit({ type: 'tool_call', step, index: e.index, id: e.call.id, name: e.call.name, arguments: e.call.argumentsJson });
        break;
      case 'tool_call_error':
        onCallError();
        emit({ type: 'tool_call_error', step, index: e.index, message: e.message });
        break;
      case 'finish':
        rec.usage.completionTokens += e.result.usage.completionTokens;
        emit({ type: 'turn_end', step, finish: e.result.finish, completionTokens: e.result.usage.completionTokens, warnings: e.result.warnings });
        return e.result;
      default:
        break;
    }
  }
  throw new InvariantError('the turn ended without a finish event');
}

/** Runs a step's calls (in parallel); returns the tool messages that answer them. */
async function runTools(run: LoopRun, calls: PendingCall[]): Promise<ChatMessage[]> {
  const { record: rec, emit, signal } = run;
  const step = rec.steps;
  const outcomes = await run.registry.callMany(
    calls.map((c) => ({ id: c.id, name: c.name, arguments: c.argumentsJson })),
    { signal, ...(rec.options.toolTimeoutMs ? { timeoutMs: rec.options.toolTimeoutMs } : {}) },
  );
  if (signal.aborted) return [];
  const messages: ChatMessage[] = [];
  outcomes.forEach((out, i) => {
    const c = calls[i]!;
    const r: AgentToolCallRecord = {
      step, id: c.id, name: c.name, arguments: c.argumentsJson.slice(0, 2000),
      ok: out.ok, isError: !out.ok || out.isError, ...(out.ok ? {} : { error: out.error.type }),
      truncated: out.ok && out.truncated, durationMs: Math.round(out.durationMs),
    };
    const at = rec.toolCalls.findIndex((x) => x.id === c.id && x.step === step);
    if (at >= 0) rec.toolCalls[at] = r;
    else rec.toolCalls.push(r);
    emit({ type: 'tool_result', step, id: c.id, name: c.name, ok: r.ok, isError: r.isError, ...(!out.ok ? { error: out.error.message } : {}), truncated: r.truncated, durationMs: r.durationMs, preview: out.content.slice(0, PREVIEW_CHARS) });
    messages.push({ role: 'tool', tool_call_id: c.id, content: out.content });
  });
  if (rec.toolCalls.length > MAX_RECORDED_CALLS) rec.toolCalls.splice(0, rec.toolCalls.length - MAX_RECORDED_CALLS);
  rec.steps++;
  emit({ type: 'step_end', step, toolCalls: calls.length });
  await writeRunRecord(run.session, rec);
  return messages;
}
