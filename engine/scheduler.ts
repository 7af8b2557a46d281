/**
 * The scheduler owns the engine: every forward call, and every KV copy/read/write that must not
 * overlap one, goes through it. Continuous batching: each step is one `engine.forward` carrying one
 * entry per active sequence (decodes feed 1 token, prefills a chunk, see scheduler-plan.ts).
 *
 * A request that wants logits feeds its last token in a step of its own (after the rest of its tokens): the
 * logits that pick a turn's first token always come from the one-token (decode) path, whatever computed the
 * prompt before it — a cold prefill in chunks, a prefix reused and only its last position recomputed, a slot
 * restored after a restart. Kernels whose sums depend on how many rows a sequence feeds (bf16 activations
 * round every matmul input, so a last-bit difference grows) then give a turn the same first token either way.
 *
 * KvSlot.tokensForwarded counts the positions each slot computed (for per-session cost checks). Engine
 * operations on different slots may overlap; the scheduler still runs KV copies between steps so a
 * session's slot is never busy when its next step comes.
 */
import type { Engine, EntryLogits, ForwardEntry, KvSlot } from './engine-api.js';
import { EngineError, KvCapacityError } from './errors.js';
import { planStep, type PlanJob, type PlanOptions } from './scheduler-plan.js';
import { PrefillShare, type PrefillShareOptions } from './scheduler-share.js';
import { Lane } from './util/lane.js';

/** A request was cancelled through its AbortSignal (or the scheduler was closed). */
export class SchedulerAbortError extends EngineError {
  override name = 'AbortError';
  override code = 'cancelled';
  override status = 499;
}

export interface PrefillRequest {
  slot: KvSlot;
  /** Written at [slot.length, slot.length + n). */
  tokens: ArrayLike<number>;
  /** Return the logits after the last token (default true). */
  logits?: boolean;
  /** Higher runs first within its size class (default 0). */
  priority?: number;
  signal?: AbortSignal;
}

export interface GenerateRequest {
  slot: KvSlot;
  /** Tokens fed before sampling starts (≥ 1); the logits after the last one pick the first token. */
  prompt: ArrayLike<number>;
  maxTokens: number;
  /** Picks the next token from a logits row (vocab floats; valid only during the call). */
  sample(logits: Float32Array, step: number): number;
  /** Started when the forward producing step `step`'s logits starts; awaited before sample (mask preparation). */
  prepare?(step: number): Promise<void> | void;
  /** Sees each sampled token; returning true stops after it. */
  onToken?(token: number, step: number): boolean | void;
  priority?: number;
  signal?: AbortSignal;
}

export type FinishReason = 'length' | 'stop' | 'aborted';

export interface GenerateResult {
  /** Sampled tokens. The slot holds the prompt and all of them except the last (never fed). */
  tokens: number[];
  finish: FinishReason;
}

export interface SchedulerOptions extends Partial<Omit<PlanOptions, 'budget' | 'prefillWithDecodes'>> {
  /** Tokens per forward call; default engine.maxBatchTokens. */
  tokenBudget?: number;
  /** Bound of a step's prefill share while sequences decode (scheduler-share.ts); false = the whole budget. */
  prefillShare?: PrefillShareOptions | false;
}

export interface SchedulerStats {
  steps: number;
  /** Entries over all steps (mean batch width = entries / steps). */
  entries: number;
  tokens: number;
  maxEntries: number;
  active: number;
}

interface Job extends PlanJob {
  slot: KvSlot;
  feed: number[];
  wantLogits: boolean;
  gen?: GenerateRequest;
  out: number[];
  signal?: AbortSignal;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Work {
  job: Job;
  n: number;
  entry: ForwardEntry;
  prep?: Promise<void> | void;
}

export class Scheduler {
  private jobs = new Map<number, Job>();
  private nextId = 1;
  private running = false;
  private closed = false;
  /** One engine user at a time: a step, or an exclusive KV operation. */
  private lane = new Lane();
  private plan: PlanOptions;
  private st: SchedulerStats = { steps: 0, entries: 0, tokens: 0, maxEntries: 0, active: 0 };
  private share: PrefillShare | null;

  constructor(readonly engine: Engine, opts: SchedulerOptions = {}) {
    this.plan = {
      budget: Math.min(opts.tokenBudget ?? engine.maxBatchTokens, engine.maxBatchTokens),
      shortThreshold: opts.shortThreshold ?? 1024,
      longShare: opts.longShare ?? 0.25,
    };
    this.share = opts.prefillShare === false ? null : new PrefillShare(opts.prefillShare);
  }

  /** Appends tokens to a slot; resolves to the logits after the last one (a copy) or null. */
  prefill(req: PrefillRequest): Promise<Float32Array | null> {
    if (req.tokens.length === 0) return Promise.resolve(null);
    return this.submit(req.slot, req.tokens, req.logits !== false, req.priority, req.signal) as Promise<Float32Array | null>;
  }

  /** Feeds the prompt, then samples until maxTokens, a stop from onToken, or abort (finish 'aborted'). */
  generate(req: GenerateRequest): Promise<GenerateResult> {
    if (req.prompt.length === 0) return Promise.reject(new RangeError('generate needs at least one prompt token'));
    if (req.maxTokens < 1) return Promise.resolve({ tokens: [], finish: 'length' });
    return this.submit(req.slot, req.prompt, true, req.priority, req.signal, req) as Promise<GenerateResult>;
  }

  /** Runs `fn` with the engine to itself (between steps): KV copy, read, write. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lane.run(fn);
  }

  stats(): SchedulerStats {
    return { ...this.st, active: this.jobs.size };
  }

  /** Aborts every request; later submissions reject. */
  close(): void {
    this.closed = true;
    for (const j of this.jobs.values()) this.finish(j, 'aborted');
  }

  private submit(slot: KvSlot, tokens: ArrayLike<number>, wantLogits: boolean, priority = 0, signal?: AbortSignal, gen?: GenerateRequest): Promise<unknown> {
    if (this.closed) return Promise.reject(new SchedulerAbortError('scheduler is closed'));
    if (signal?.aborted) return Promise.reject(new SchedulerAbortError('aborted before start'));
    for (const j of this.jobs.values()) {
      if (j.slot === slot) return Promise.reject(new EngineError(`slot ${slot.id} already has a request in flight`));
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const feed = Array.from(tokens);
      this.jobs.set(id, { id, kind: 'prefill', remaining: feed.length, priority, seq: id, waited: 0, slot, feed, wantLogits, gen, out: [], signal, resolve, reject });
      if (!this.running) void this.loop();
    });
  }

  /** The step loop. */
  private async loop(): Promise<void> {
    this.running = true;
    while (this.jobs.size) {
      await this.lane.run(async () => {
        const work = this.nextWork();
        if (!work.length) return;
        for (const w of work) w.prep = w.job.gen && w.n === w.job.remaining ? w.job.gen.prepare?.(w.job.out.length) : undefined;
        const out = await this.forward(work);
        if (out) for (let i = 0; i < work.length; i++) await this.advance(work[i]!, out[i]!);
      });
    }
    this.running = false;
  }

  /** Drops cancelled and impossible jobs, plans the step and builds its entries. */
  private nextWork(): Work[] {
    for (const j of [...this.jobs.values()]) {
      if (j.signal?.aborted) this.finish(j, 'aborted');
      else if (j.slot.length + j.remaining > j.slot.capacity) {
        this.fail(j, new KvCapacityError(`slot ${j.slot.id}: ${j.slot.length} + ${j.remaining} tokens exceed capacity ${j.slot.capacity}`));
      }
    }
    // a job wanting logits holds its last token back until the rest is fed (see the module comment)
    const view = [...this.jobs.values()].map((j) => (j.wantLogits && j.kind === 'prefill' && j.remaining > 1 ? { ...j, remaining: j.remaining - 1 } : j));
    const decodes = view.reduce((a, j) => a + (j.kind === 'decode' ? 1 : 0), 0);
    const items = planStep(view, this.share ? { ...this.plan, prefillWithDecodes: this.share.chunk(this.plan.budget, decodes) } : this.plan);
    const chosen = new Set(items.map((i) => i.id));
    for (const j of this.jobs.values()) if (!chosen.has(j.id)) j.waited++;
    return items.map(({ id, n }) => {
      const job = this.jobs.get(id)!;
      job.waited = 0;
      const last = n === job.remaining;
      const logits = last && job.wantLogits ? 'last' : 'none';
      return { job, n, entry: { slot: job.slot, tokens: job.feed.slice(0, n), logits } };
    });
  }

  private async forward(work: Work[]): Promise<EntryLogits[] | null> {
    try {
      const t0 = performance.now();
      const out = await this.engine.forward(work.map((w) => w.entry), { reuseLogits: true }); // every row is consumed in advance() before the next step
      // decodes and held-back last tokens cost as decodes; a one-token chunk of a longer prefill does not (it is deep in a prompt)
      const decodes = work.filter((w) => w.job.kind === 'decode' || (w.n === 1 && w.job.remaining === 1)).length;
      this.share?.observe(performance.now() - t0, decodes, work.reduce((a, w) => a + w.n, 0) - decodes);
      await Promise.all(work.map((w) => w.prep));
      this.st.steps++;
      this.st.entries += work.length;
      this.st.maxEntries = Math.max(this.st.maxEntries, work.length);
      this.st.tokens += work.reduce((a, w) => a + w.n, 0);
      return out;
    } catch (e) {
      for (const w of work) this.fail(w.job, e);
      return null;
    }
  }

  /** Applies one entry's result: advance the prefill, or sample/emit/stop a generation. */
  private async advance(w: Work, res: EntryLogits): Promise<void> {
    const j = w.job;
    j.feed.splice(0, w.n);
    j.remaining = j.feed.length;
    if (j.remaining > 0) {
      j.split = true;
      return;
    }
    const row = j.wantLogits ? res.data.subarray(res.data.length - this.engine.config.vocabSize) : null;
    if (!j.gen) return this.settle(j, row ? Float32Array.from(row) : null);
    if (j.signal?.aborted) return this.finish(j, 'aborted');
    const step = j.out.length;
    let token: number;
    try {
      token = j.gen.sample(row!, step);
    } catch (e) {
      return this.fail(j, e);
    }
    j.out.push(token);
    const stop = j.gen.onToken?.(token, step) === true;
    if (stop) return this.finish(j, 'stop');
    if (j.out.length >= j.gen.maxTokens) return this.finish(j, 'length');
    j.kind = 'decode';
    j.feed = [token];
    j.remaining = 1;
  }

  private finish(j: Job, reason: FinishReason): void {
    if (!j.gen) return this.fail(j, new SchedulerAbortError(`prefill on slot ${j.slot.id} aborted`));
    this.settle(j, { tokens: j.out, finish: reason } satisfies GenerateResult);
  }

  private settle(j: Job, v: unknown): void {
    if (this.jobs.delete(j.id)) j.resolve(v);
  }

  private fail(j: Job, e: unknown): void {
    if (this.jobs.delete(j.id)) j.reject(e);
  }
}
