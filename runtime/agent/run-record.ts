/**
 * The run record inside the session (`settings.agentRun`, see types.ts; on disk: docs/formats.md) and
 * what a session's conversation says about where an interrupted run stands. The conversation is the
 * truth for progress (steps, pending calls); the record adds the goal, options and accounting.
 */
import type { ChatMessage } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import { chatMessagesOf } from '../chat/conversation.js';
import { RUN_RECORD_KEY, RUN_RECORD_VERSION, type AgentRunRecord } from './types.js';

/** The run record of a session, if it holds a valid one. */
export function readRunRecord(s: Session): AgentRunRecord | undefined {
  const r = s.state.settings[RUN_RECORD_KEY] as AgentRunRecord | undefined;
  if (!r || typeof r !== 'object' || r.v !== RUN_RECORD_VERSION || typeof r.runId !== 'string' || typeof r.goal !== 'string') return undefined;
  return r;
}

/** Writes the record into the session's settings (journaled and fsynced before it resolves). */
export async function writeRunRecord(s: Session, rec: AgentRunRecord): Promise<void> {
  rec.updatedAt = Date.now();
  await s.setMeta({ settings: { ...s.state.settings, [RUN_RECORD_KEY]: structuredClone(rec) } });
}

/** A call the model asked for, as recorded in the conversation. */
export interface PendingCall {
  id: string;
  name: string;
  argumentsJson: string;
}

/** What comes next for a run on this conversation. */
export type NextAction =
  | { kind: 'generate' }
  | { kind: 'tools'; calls: PendingCall[] }
  | { kind: 'done'; answer: string };

const textOf = (c: ChatMessage['content']): string => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => p.text ?? '').join('') : '');

/** Reads the conversation from the run's start: pending calls, a final answer, or a turn to generate. */
export function nextAction(s: Session, startMessage: number): NextAction {
  const msgs = chatMessagesOf(s);
  const last = msgs.at(-1);
  if (!last || msgs.length - 1 <= startMessage || last.role !== 'assistant') return { kind: 'generate' };
  const calls = last.tool_calls ?? [];
  if (calls.length === 0) return { kind: 'done', answer: textOf(last.content) };
  return {
    kind: 'tools',
    calls: calls.map((c, i) => ({ id: c.id ?? `call_${i}`, name: c.function.name, argumentsJson: typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments) })),
  };
}

/**
 * Steps completed since the run's start: assistant turns with calls that tool results answer, and
 * turns whose call was cut off and answered by the loop's note (a user message starting `cutNote`).
 */
export function completedSteps(s: Session, startMessage: number, cutNote = '[agent] Your tool call was cut off'): number {
  const msgs = chatMessagesOf(s);
  let n = 0;
  for (let i = startMessage; i < msgs.length - 1; i++) {
    const m = msgs[i]!;
    const next = msgs[i + 1]!;
    if (m.role !== 'assistant') continue;
    if (m.tool_calls?.length && next.role === 'tool') n++;
    else if (next.role === 'user' && textOf(next.content).startsWith(cutNote)) n++;
  }
  return n;
}
