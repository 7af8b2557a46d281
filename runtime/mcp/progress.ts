/** Progress notifications of one MCP tool call (sent only when the client gave a progressToken). */

/** What a tool handler gets besides its arguments. */
export interface McpCallContext {
  /** Aborts when the client sends notifications/cancelled (or the transport closes). */
  signal: AbortSignal;
  progress: ProgressReporter;
}

type Send = (n: { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; total?: number; message?: string } }) => Promise<void>;

/** Sends `notifications/progress` with a strictly increasing `progress`, at most every `minIntervalMs` unless forced. */
export class ProgressReporter {
  private last = -Infinity;
  private lastAt = 0;
  /** Notifications sent. */
  sent = 0;

  constructor(private readonly token: string | number | undefined, private readonly send: Send, private readonly minIntervalMs = 100) {}

  /** True when the client asked for progress. */
  get wanted(): boolean {
    return this.token !== undefined;
  }

  /** Reports `progress` (ignored unless it grew); `force` skips the rate limit. */
  report(progress: number, o: { total?: number; message?: string; force?: boolean } = {}): void {
    if (this.token === undefined || !(progress > this.last)) return;
    const now = Date.now();
    if (!o.force && now - this.lastAt < this.minIntervalMs) return;
    this.last = progress;
    this.lastAt = now;
    this.sent++;
    const params = { progressToken: this.token, progress, ...(o.total !== undefined ? { total: o.total } : {}), ...(o.message ? { message: o.message } : {}) };
    this.send({ method: 'notifications/progress', params }).catch(() => undefined);
  }
}

/**
 * Runs `fn` while sampling `read()` (e.g. a KV slot's filled length during a prefill) every
 * `everyMs` and reporting growth as progress.
 */
export async function withPolledProgress<T>(p: ProgressReporter, read: () => number, message: string, fn: () => Promise<T>, everyMs = 100): Promise<T> {
  if (!p.wanted) return fn();
  const base = read();
  const timer = setInterval(() => {
    const v = read() - base;
    if (v > 0) p.report(v, { message, force: true });
  }, everyMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
