/**
 * Recent activity kept in memory for the console: the last turns (tokens, time to first token,
 * decode rate) and a ring of periodic samples of the same counters /metrics renders (throughput,
 * step latency, queue depth, KV bytes). Bounded: `maxTurns` turns, `maxSamples` samples.
 */
import type { TurnResult } from '../chat/types.js';

/** One finished turn. Times in ms; `decodeTps` is null when fewer than two tokens were sampled. */
export interface TurnRecord {
  at: number;
  sessionId: string;
  finish: string;
  promptTokens: number;
  prefilled: number;
  reused: number;
  completionTokens: number;
  ttftMs: number | null;
  totalMs: number;
  decodeTps: number | null;
}

/** Cumulative counters and gauges read at one instant. */
export interface CounterReading {
  generated: number;
  prefilled: number;
  turns: number;
  steps: number;
  stepSecondsSum: number;
  queueDepth: number;
  kvBytes: number;
  residentSessions: number;
  inFlight: number;
}

/** One sample: rates over the interval since the previous reading, plus gauges now. */
export interface ActivitySample {
  at: number;
  generatedPerS: number;
  prefilledPerS: number;
  turnsPerS: number;
  /** Mean wall time of a scheduler step in the interval (ms; null without steps). */
  stepMs: number | null;
  queueDepth: number;
  kvBytes: number;
  residentSessions: number;
  inFlight: number;
}

export class ActivityLog {
  private turns: TurnRecord[] = [];
  private samples: ActivitySample[] = [];
  private last?: { at: number; r: CounterReading };
  private timer?: NodeJS.Timeout;

  constructor(readonly o: { maxTurns: number; maxSamples: number; intervalMs: number }) {}

  /** Records a finished turn (the runner's onFinish). */
  addTurn(r: TurnResult, at = Date.now()): void {
    const t = r.timing;
    const decodeMs = t && t.firstTokenMs !== null ? t.totalMs - t.firstTokenMs : 0;
    this.turns.push({
      at, sessionId: r.sessionId, finish: r.finish,
      promptTokens: r.usage.promptTokens, prefilled: r.usage.prefilled, reused: r.usage.reused, completionTokens: r.usage.completionTokens,
      ttftMs: t?.firstTokenMs ?? null, totalMs: t?.totalMs ?? 0,
      decodeTps: r.usage.completionTokens > 1 && decodeMs > 0 ? ((r.usage.completionTokens - 1) * 1000) / decodeMs : null,
    });
    if (this.turns.length > this.o.maxTurns) this.turns.splice(0, this.turns.length - this.o.maxTurns);
  }

  /** Takes one reading; the first only sets the baseline. */
  sample(r: CounterReading, at = Date.now()): void {
    const prev = this.last;
    this.last = { at, r };
    if (!prev || at <= prev.at) return;
    const s = (at - prev.at) / 1000;
    const steps = r.steps - prev.r.steps;
    this.samples.push({
      at,
      generatedPerS: (r.generated - prev.r.generated) / s,
      prefilledPerS: (r.prefilled - prev.r.prefilled) / s,
      turnsPerS: (r.turns - prev.r.turns) / s,
      stepMs: steps > 0 ? ((r.stepSecondsSum - prev.r.stepSecondsSum) * 1000) / steps : null,
      queueDepth: r.queueDepth, kvBytes: r.kvBytes, residentSessions: r.residentSessions, inFlight: r.inFlight,
    });
    if (this.samples.length > this.o.maxSamples) this.samples.splice(0, this.samples.length - this.o.maxSamples);
  }

  /** Samples every `intervalMs` until stop() (the timer does not keep the process alive). */
  start(read: () => CounterReading): void {
    if (this.timer) return;
    this.sample(read());
    this.timer = setInterval(() => this.sample(read()), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Recent turns, newest first, of the sessions `visible` admits. */
  recentTurns(visible: (sessionId: string) => boolean = () => true): TurnRecord[] {
    return this.turns.filter((t) => visible(t.sessionId)).reverse();
  }

  /** Samples, oldest first. */
  history(): ActivitySample[] {
    return [...this.samples];
  }
}
