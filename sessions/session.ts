/**
 * A durable session. Token-level operations are the core (appendTokens, generate, truncate, fork
 * via the store); messages are spans over the tokens (appendMessage, rollbackToMessage, editMessage).
 * Invariant: while resident, slot positions [0, slot.length) hold the K/V of tokens[0, slot.length),
 * slot.length ≤ tokens.length; the tail is fed lazily by the next operation that needs logits.
 * Hybrid models (slot.stateBytes > 0): the slot's recurrent state is current (statePosition = length) before
 * every forward; `checkpoints` hold states at message boundaries, feed ends and snapshot points, so a cut
 * back to t costs only the tokens between the nearest checkpoint ≤ t and t (sessions/state-sync.ts).
 * Every state change is journaled before the operation resolves (written, and fdatasync'ed per the store's durability: journal-sync.ts).
 */
import { argmax } from '../engine/decode/logit-math.js';
import type { KvSlot } from '../engine/engine-api.js';
import { SchedulerAbortError } from '../engine/scheduler.js';
import { Lane } from '../engine/util/lane.js';
import { JournalWriter } from './journal.js';
import { encodeJson, encodeRecord, encodeTokens, encodeTruncate, RecordType } from './journal-format.js';
import { SessionAbortedError, SessionArgumentError } from './errors.js';
import { truncateState, type MessageSpan, type SessionState } from './session-state.js';
import { stopChecker, type GenerateOptions, type GenerateOutcome } from './generate-options.js';
import type { StoredSegment } from './kv-persist.js';
import type { SessionHost } from './session-host.js';
import type { StateCheckpoints } from './state-checkpoints.js';
import { checkpointHere, prefillMarked, rewindSlot, syncState } from './state-sync.js';

import type { AppendOptions, MessageEncoder, MessageInput, SessionCounters, SessionInfo } from './session-types.js';

export type { AppendOptions, MessageEncoder, MessageInput, SessionCounters, SessionInfo };

export class Session {
  slot: KvSlot | null = null;
  /** Logits after tokens[slot.length - 1], valid only when slot.length === tokens.length. */
  lastLogits: Float32Array | null = null;
  pinned = false;
  readonly lane = new Lane();
  readonly counters: SessionCounters = { prefilled: 0, reused: 0, restored: 0, generated: 0, spills: 0 };
  deleted = false;
  /** Positions restorable from the snapshot segments on disk (for the current tokens). */
  covered = 0;

  constructor(
    readonly host: SessionHost,
    readonly state: SessionState,
    readonly dir: string,
    public journal: JournalWriter,
    public segments: StoredSegment[],
    readonly warnings: string[],
    readonly checkpoints: StateCheckpoints,
  ) {}

  get id(): string {
    return this.state.id;
  }

  get tokens(): readonly number[] {
    return this.state.tokens;
  }

  /** Appends tokens; the engine runs on exactly the tokens not yet in the slot (normally just these). */
  appendTokens(tokens: ArrayLike<number>, o: AppendOptions = {}): Promise<{ tokenCount: number; prefilled: number }> {
    const add = Array.from(tokens);
    this.checkTokens(add);
    return this.op(async () => {
      const slot = await this.ready();
      const start = this.state.tokens.length;
      const feed = [...this.state.tokens.slice(slot.length), ...add];
      await this.feed(slot, feed, o.signal, o.priority, () => slot.truncate(Math.min(slot.length, start)), [start], o.logits !== false);
      const recs = [encodeRecord(RecordType.Tokens, encodeTokens(Date.now(), 0, add))];
      const span: MessageSpan | undefined = o.message && { ...o.message, start, end: start + add.length };
      if (span) recs.push(encodeRecord(RecordType.Message, encodeJson(span)));
      await this.journal.append(...recs);
      for (const t of add) this.state.tokens.push(t);
      if (span) this.state.messages.push(span);
      this.used();
      return { tokenCount: this.state.tokens.length, prefilled: feed.length };
    });
  }

  /** Appends one message encoded by `encode`. */
  async appendMessage(message: MessageInput, encode: MessageEncoder, o: Omit<AppendOptions, 'message'> = {}): Promise<number> {
    const tokens = await encode(message, this.state.messages.length);
    await this.appendTokens(tokens, { ...o, message });
    return this.state.messages.length - 1;
  }

  /** Samples up to maxTokens tokens; each is journaled (written; synced in strict mode) before onToken sees it. */
  generate(o: GenerateOptions = {}): Promise<GenerateOutcome> {
    return this.op(async () => {
      if (this.state.tokens.length === 0) throw new SessionArgumentError(`session ${this.id} is empty: nothing to generate from`);
      const maxTokens = o.maxTokens ?? 256;
      const sample = o.sample ?? argmax;
      const stopAfter = stopChecker(o, this.host.engine.config.eosTokenIds, this.host.detokenize);
      const slot = await this.ready();
      const gen: number[] = [];
      let durable = Promise.resolve();
      const emit = (t: number): boolean => {
        gen.push(t);
        const rec = encodeRecord(RecordType.Tokens, encodeTokens(Date.now(), 1, [t]));
        durable = Promise.all([durable, this.journal.append(rec)]).then(() => {
          this.state.tokens.push(t);
          this.state.generated++;
          o.onToken?.(t);
        });
        return stopAfter(gen);
      };
      let finish: GenerateOutcome['finish'] = 'length';
      let prompt = this.state.tokens.slice(slot.length);
      if (prompt.length === 0 && this.lastLogits) {
        // Sample the first token from the cached logits: no engine work.
        const stop = emit(sample(this.lastLogits, 0));
        prompt = [gen[0]!];
        if (stop) finish = 'stop';
      } else if (prompt.length === 0) {
        await this.rewind(slot, slot.length - 1); // recompute the last position (from a checkpoint) to get its logits
        prompt = this.state.tokens.slice(slot.length);
      }
      this.lastLogits = null;
      if (finish !== 'stop' && gen.length < maxTokens && !o.signal?.aborted) {
        const offset = gen.length;
        const before = slot.length;
        const r = await this.host.scheduler.generate({
          slot,
          prompt,
          maxTokens: maxTokens - offset,
          sample: (row, step) => sample(row, step + offset),
          prepare: o.prepare && ((step) => o.prepare!(step + offset)),
          onToken: (t) => emit(t),
          signal: o.signal,
          priority: o.priority,
        });
        this.counters.prefilled += Math.max(0, slot.length - before);
        finish = r.finish;
      } else if (o.signal?.aborted) finish = 'aborted';
      await durable;
      // Slot holds every token but the last sampled one; roll back anything beyond (aborted prefill).
      if (slot.length > this.state.tokens.length) slot.truncate(this.state.tokens.length);
      this.checkpoints.dropAfter(this.state.tokens.length);
      await checkpointHere(slot, this.checkpoints, this.host.scheduler); // the end of the generated turn
      this.used();
      const text = this.host.detokenize?.(gen);
      return { tokens: gen, finish, ...(text !== undefined ? { text } : {}) };
    });
  }

  /** Keeps the first n tokens (rollback). The slot keeps its prefix; nothing before n is recomputed. */
  truncate(n: number): Promise<void> {
    return this.op(() => this.truncateLocked(n));
  }

  /** Rolls back to just before message k. */
  rollbackToMessage(k: number): Promise<void> {
    return this.op(async () => this.truncateLocked(this.messageAt(k).start));
  }

  /** Replaces message k and re-appends the messages after it: only tokens from message k on are recomputed. */
  editMessage(k: number, message: MessageInput, encode: MessageEncoder, o: Omit<AppendOptions, 'message'> = {}): Promise<void> {
    return this.op(async () => {
      const later = this.state.messages.slice(k + 1).map((m) => ({ role: m.role, content: m.content, meta: m.meta }));
      await this.truncateLocked(this.messageAt(k).start);
      const all = [message, ...later];
      const parts: number[][] = [];
      for (let i = 0; i < all.length; i++) parts.push(await encode(all[i]!, k + i));
      const slot = await this.ready();
      const start = this.state.tokens.length;
      const flat = parts.flat();
      const feed = [...this.state.tokens.slice(slot.length), ...flat];
      const marks = parts.map((_, i) => start + parts.slice(0, i).reduce((a, q) => a + q.length, 0));
      await this.feed(slot, feed, o.signal, o.priority, () => slot.truncate(Math.min(slot.length, start)), marks);
      const recs = [encodeRecord(RecordType.Tokens, encodeTokens(Date.now(), 0, flat))];
      const spans: MessageSpan[] = [];
      let p = start;
      for (let i = 0; i < all.length; i++) {
        spans.push({ ...all[i]!, start: p, end: p + parts[i]!.length });
        p += parts[i]!.length;
      }
      for (const s of spans) recs.push(encodeRecord(RecordType.Message, encodeJson(s)));
      await this.journal.append(...recs);
      for (const t of flat) this.state.tokens.push(t);
      this.state.messages.push(...spans);
      this.used();
    });
  }

  /** Next-token logits after the whole session (a copy); feeds the un-fed tail if needed. */
  logits(o: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    return this.op(async () => {
      if (this.state.tokens.length === 0) throw new SessionArgumentError(`session ${this.id} is empty: no logits`);
      const slot = await this.ready();
      if (!this.lastLogits) {
        if (slot.length === this.state.tokens.length) await this.rewind(slot, slot.length - 1);
        await this.feed(slot, this.state.tokens.slice(slot.length), o.signal, 0, () => {});
      }
      this.used();
      return Float32Array.from(this.lastLogits!);
    });
  }

  /** Replaces tools and/or settings (journaled). */
  setMeta(m: { tools?: unknown[]; settings?: Record<string, unknown> }): Promise<void> {
    return this.op(async () => {
      await this.journal.append(encodeRecord(RecordType.Meta, encodeJson(m)));
      if (m.tools) this.state.tools = m.tools;
      if (m.settings) this.state.settings = m.settings;
    });
  }

  /** Writes a snapshot segment for everything in the slot not yet covered on disk. */
  snapshot(): Promise<number> {
    return this.op(() => this.host.snapshot(this));
  }

  info(): SessionInfo {
    const s = this.state;
    return {
      id: s.id,
      model: s.model,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      tokenCount: s.tokens.length,
      messages: s.messages.map((m) => ({ ...m })),
      tools: s.tools,
      settings: s.settings,
      parent: s.parent,
      resident: this.slot !== null,
      pinned: this.pinned,
      slotLength: this.slot?.length ?? 0,
      residentBytes: this.slot?.residentBytes() ?? 0,
      snapshotCovered: this.covered,
      journalBytes: this.journal.bytes,
      counters: { ...this.counters, generated: s.generated },
      checkpoints: this.checkpoints.figures(),
      warnings: [...this.warnings],
    };
  }

  /** Runs an operation under this session's lane (one at a time). */
  op<T>(fn: () => Promise<T>): Promise<T> {
    return this.lane.run(async () => {
      this.host.check(this);
      try {
        return await fn();
      } catch (e) {
        this.realign();
        throw e;
      }
    });
  }

  /** After a failed operation the slot never holds more than the journal (a failed journal write, e.g. a full disk, leaves it ahead). */
  private realign(): void {
    const slot = this.slot;
    const n = this.state.tokens.length;
    if (!slot || slot.length <= n) return;
    slot.truncate(n);
    this.lastLogits = null;
    this.checkpoints.dropAfter(n);
  }

  /**
   * Prefills `feed` at the slot's end (a checkpoint at each absolute position in `marks` and at the end, for
   * hybrids); on failure/abort calls `undo` and rethrows (abort as SessionAbortedError).
   */
  async feed(slot: KvSlot, feed: number[], signal: AbortSignal | undefined, priority = 0, undo: () => void, marks: number[] = [], logits = true): Promise<void> {
    if (feed.length === 0) return;
    this.lastLogits = null;
    try {
      this.lastLogits = await prefillMarked(this.host.scheduler, slot, feed, this.checkpoints, marks, { signal, priority, logits });
    } catch (e) {
      undo();
      this.checkpoints.dropAfter(this.state.tokens.length); // states of tokens that were never journaled
      if (e instanceof SchedulerAbortError) throw new SessionAbortedError(`operation on session ${this.id} aborted`);
      throw e;
    }
    this.counters.prefilled += feed.length;
    this.host.touched(this);
  }

  async truncateLocked(n: number): Promise<void> {
    const len = this.state.tokens.length;
    if (!Number.isInteger(n) || n < 0 || n > len) throw new SessionArgumentError(`truncate to ${n}: session ${this.id} has ${len} tokens`);
    if (n === len) return;
    await this.journal.append(encodeRecord(RecordType.Truncate, encodeTruncate(Date.now(), n)));
    truncateState(this.state, n);
    this.lastLogits = null;
    this.checkpoints.dropAfter(n);
    if (this.slot && this.slot.length > n) await this.rewind(this.slot, n);
    this.counters.reused += Math.min(n, this.slot?.length ?? 0);
    await this.host.truncated(this);
    this.used();
  }

  /** The session's slot (made resident), its recurrent state current. Inside the lane. */
  async ready(): Promise<KvSlot> {
    const slot = await this.host.resident(this);
    if (await syncState(slot, this.checkpoints, this.host.scheduler)) this.lastLogits = null;
    return slot;
  }

  /** Cuts the slot to n positions, back to the nearest checkpoint for hybrids (the gap is fed lazily). */
  private async rewind(slot: KvSlot, n: number): Promise<void> {
    await rewindSlot(slot, n, this.checkpoints, this.host.scheduler);
    this.lastLogits = null;
  }

  private messageAt(k: number): MessageSpan {
    const m = this.state.messages[k];
    if (!m) throw new SessionArgumentError(`session ${this.id} has no message ${k} (it has ${this.state.messages.length})`);
    return m;
  }

  private checkTokens(t: number[]): void {
    const v = this.host.engine.config.vocabSize;
    for (const x of t) if (!Number.isInteger(x) || x < 0 || x >= v) throw new SessionArgumentError(`token id ${x} outside vocabulary [0, ${v})`);
  }

  private used(): void {
    this.state.lastUsedAt = Date.now();
    this.host.touched(this);
  }
}
