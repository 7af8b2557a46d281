/** One run in this process: its event log (replayable), subscribers, cancellation and result. */
import type { AgentEvent, AgentEventBody, AgentRunResult, AgentRunStatus } from './types.js';

/** Events kept per run for replay (the oldest content deltas beyond this are dropped). */
const MAX_EVENTS = 20_000;

/** Public summary of a run. */
export interface AgentRunSummary {
  run_id: string;
  session_id: string;
  goal: string;
  /** 'interrupted': recorded as running in a session but not running in this process (resume it). */
  status: AgentRunStatus | 'interrupted';
  steps: number;
  started_at: number;
  result?: AgentRunResult;
}

export class AgentRun {
  readonly events: AgentEvent[] = [];
  readonly abort = new AbortController();
  readonly startedAt = Date.now();
  result?: AgentRunResult;
  steps = 0;
  private seq = 0;
  private wake = new Set<() => void>();
  /** Resolves with the result once the run ended (never rejects). */
  done!: Promise<AgentRunResult>;

  constructor(readonly runId: string, readonly sessionId: string, readonly goal: string) {}

  get running(): boolean {
    return this.result === undefined;
  }

  /** Appends an event and wakes subscribers. */
  push(body: AgentEventBody): AgentEvent {
    const e = { ...body, seq: this.seq++, time: Date.now() } as AgentEvent;
    this.events.push(e);
    if (this.events.length > MAX_EVENTS) {
      const i = this.events.findIndex((x) => x.type === 'content' || x.type === 'reasoning');
      this.events.splice(i >= 0 ? i : 1, 1);
    }
    if (body.type === 'step_end') this.steps = body.step + 1;
    if (body.type === 'run_end') this.result = body.result;
    for (const w of this.wake) w();
    return e;
  }

  /** Events with seq > `after`, then live ones, until run_end (or `signal`). */
  async *subscribe(after = -1, signal?: AbortSignal): AsyncGenerator<AgentEvent, void, undefined> {
    let last = after;
    for (;;) {
      for (const e of this.events) {
        if (e.seq <= last) continue;
        last = e.seq;
        yield e;
        if (e.type === 'run_end') return;
      }
      if (!this.running || signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const w = () => {
          this.wake.delete(w);
          signal?.removeEventListener('abort', w);
          resolve();
        };
        this.wake.add(w);
        signal?.addEventListener('abort', w, { once: true });
      });
    }
  }

  /** Cancels at the next engine step or tool call boundary; `reason` 'shutdown' keeps the run resumable. */
  cancel(reason?: string): void {
    this.abort.abort(reason);
  }

  summary(): AgentRunSummary {
    return {
      run_id: this.runId, session_id: this.sessionId, goal: this.goal,
      status: this.result?.status ?? 'running', steps: this.result?.steps ?? this.steps,
      started_at: Math.floor(this.startedAt / 1000), ...(this.result ? { result: this.result } : {}),
    };
  }
}
