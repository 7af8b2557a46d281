/**
 * The session store: the directory lifecycle of every session under `<dataDir>/sessions/<id>/`
 * (open/load, create, fork, delete, repair, close; layout in docs/formats.md), composed with the
 * ResidentSet that decides which sessions hold a KV slot.
 */
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import type { Engine, KvDType, KvSlot } from '../engine/engine-api.js';
import { Scheduler } from '../engine/scheduler.js';
import { fsyncDir } from '../engine/util/atomic-file.js';
import { JournalCorruptError, ModelMismatchError, SessionArgumentError, SessionNotFoundError, StoreClosedError } from './errors.js';
import { JournalWriter, readJournal } from './journal.js';
import { DEFAULT_DURABILITY, JournalSyncer } from './journal-sync.js';
import { kvDir, loadSegments, pruneSegments, coveredBy, type KvFormat } from './kv-persist.js';
import { ResidentSet } from './resident-set.js';
import { Session } from './session.js';
import { createSessionFolder, holdsNothing, type SegmentLink } from './session-folder.js';
import type { SessionHost } from './session-host.js';
import { replay, stateRecords, type SessionState } from './session-state.js';
import { compactIfLarge, repairJournal, type RepairReport } from './store-maintenance.js';
import { openSessionsFolder, sessionFolders } from './store-folder.js';
import { defaultCheckpointBudget, StateCheckpoints } from './state-checkpoints.js';
import { loadStateFiles, persistCheckpoints } from './state-persist.js';
import { checkpointHere, syncState } from './state-sync.js';

import type { CreateOptions, MemoryReport, StoreOptions } from './store-options.js';

export type { CreateOptions, MemoryReport, StoreOptions };

export class SessionStore implements SessionHost {
  readonly engine: Engine;
  readonly scheduler: Scheduler;
  readonly dataDir: string;
  readonly detokenize?: (tokens: number[]) => string;
  /** Sessions that could not be loaded (corrupt journal, other model), with the error. */
  readonly damaged = new Map<string, Error>();
  private sessions = new Map<string, Session>();
  private residents: ResidentSet;
  private closed = false;
  private ownScheduler: boolean;
  readonly format: KvFormat;
  /** Journal durability (strict or batched) shared by every session's journal. */
  readonly syncer: JournalSyncer;

  private constructor(private o: StoreOptions, probe: { kvDtype: KvDType; bytesPerToken: number; stateBytes: number }) {
    this.engine = o.engine;
    this.scheduler = o.scheduler ?? new Scheduler(o.engine);
    this.ownScheduler = !o.scheduler;
    this.dataDir = resolve(o.dataDir ?? './data');
    this.detokenize = o.detokenize;
    this.syncer = new JournalSyncer(o.durability ?? DEFAULT_DURABILITY);
    this.format = {
      model: `${o.engine.fingerprint}/w:${o.engine.weightDtype}/kv:${probe.kvDtype}`,
      bytesPerToken: probe.bytesPerToken,
      stateBytes: probe.stateBytes,
      chunkPositions: Math.max(1, Math.floor((o.snapshotChunkBytes ?? 16 * 2 ** 20) / probe.bytesPerToken)),
    };
    this.residents = new ResidentSet({
      engine: o.engine,
      scheduler: this.scheduler,
      format: this.format,
      limits: { maxSlots: o.maxResidentSlots ?? 8, kvBudgetBytes: o.kvBudgetBytes ?? 8 * 2 ** 30 },
      slotCapacity: Math.min(o.slotCapacity ?? o.engine.config.maxPositionEmbeddings, o.engine.config.maxPositionEmbeddings),
      kvDtype: probe.kvDtype,
      snapshotEvery: o.snapshotEvery ?? 4096,
      maxSlotWaitMs: o.maxSlotWaitMs,
      lookup: (id) => this.sessions.get(id),
      warn: (m) => this.warn(m),
    });
  }

  /** Opens (creating if needed) the data directory and loads every session's journal and snapshot heads. */
  static async open(o: StoreOptions): Promise<SessionStore> {
    const probe = o.engine.createSlot(1, o.kvDtype);
    const p = { kvDtype: probe.kvDtype, bytesPerToken: probe.bytesPerToken, stateBytes: probe.stateBytes };
    probe.dispose();
    const store = new SessionStore(o, p);
    await store.load();
    return store;
  }

  private get root(): string {
    return join(this.dataDir, 'sessions');
  }

  private warn(msg: string): void {
    this.o.onWarning?.(msg);
  }

  private async load(): Promise<void> {
    await openSessionsFolder(this.root, this.dataDir);
    for (const name of await sessionFolders(this.root, (m) => this.warn(m))) {
      try {
        this.sessions.set(name, await this.loadOne(name, true));
      } catch (e) {
        if (!(e instanceof JournalCorruptError || e instanceof ModelMismatchError)) throw e;
        if (e instanceof JournalCorruptError && (await holdsNothing(join(this.root, name, 'journal.rsj')))) {
          await rm(join(this.root, name), { recursive: true, force: true });
          this.warn(`session ${name}: its journal holds no record (a creation a power cut caught before its sync): removed`);
          continue;
        }
        this.damaged.set(name, e);
        this.warn(`${e.name}: ${e.message}`);
      }
    }
    // Fork points stay pinned across restarts while both sessions exist.
    for (const s of this.sessions.values()) {
      const at = s.state.parent && this.sessions.has(s.state.parent.id) ? s.state.parent.at : -1;
      if (at >= 0 && s.checkpoints.enabled) {
        s.checkpoints.pin(at);
        this.sessions.get(s.state.parent!.id)!.checkpoints.pin(at);
      }
    }
    for (const s of this.sessions.values()) s.checkpoints.setBudget(this.checkpointBudget);
  }

  private get checkpointBudget(): number {
    return this.o.checkpointBudgetBytes ?? defaultCheckpointBudget(this.format.stateBytes);
  }

  /** Loads one session folder; `deferBudget`: its checkpoints stay unbounded until load() has pinned fork points. */
  private async loadOne(id: string, deferBudget = false, unsynced = false): Promise<Session> {
    const dir = join(this.root, id);
    const file = join(dir, 'journal.rsj');
    const j = await readJournal(file, id);
    const state = replay(j.records, id, file);
    if (state.model !== this.format.model) throw new ModelMismatchError(id, file, this.format.model, state.model);
    const warnings: string[] = [];
    const warn = (m: string) => (warnings.push(m), this.warn(m));
    if (j.tornBytes) warn(`session ${id}: dropped a torn journal tail of ${j.tornBytes} bytes: ${file}`);
    const writer = await JournalWriter.open(file, j.validLength, this.syncer, { unsynced });
    const segs = await loadSegments(dir, id, this.format, warn);
    const cps = new StateCheckpoints(this.format.stateBytes, Infinity);
    await loadStateFiles(dir, id, this.format.model, state.tokens, cps, warn);
    if (!deferBudget) cps.setBudget(this.checkpointBudget);
    const s = new Session(this, state, dir, writer, segs, warnings, cps);
    s.covered = coveredBy(segs, state.tokens);
    return s;
  }

  /** Truncates a damaged journal at its first bad record and loads the session from what precedes it; reports what was cut. */
  async repair(id: string): Promise<{ session: Session; report: RepairReport }> {
    if (!this.damaged.has(id)) throw new SessionArgumentError(`session ${id} is not damaged`);
    const file = join(this.root, id, 'journal.rsj');
    const report = await repairJournal(file, id, (records) => replay(records, id, file));
    const s = await this.loadOne(id);
    this.damaged.delete(id);
    this.sessions.set(id, s);
    return { session: s, report };
  }

  /** Creates a session (durable before it resolves). */
  async create(o: CreateOptions = {}): Promise<Session> {
    this.checkOpen();
    this.o.admit?.(o.settings ?? {});
    const now = Date.now();
    const state: SessionState = { id: ulid(), model: this.format.model, createdAt: now, lastUsedAt: now, tokens: [], messages: [], tools: o.tools ?? [], settings: o.settings ?? {}, generated: 0 };
    const s = await this.materialize(state, []);
    s.pinned = o.pinned ?? false;
    if (o.tokens?.length) await s.appendTokens(o.tokens, o);
    return s;
  }

  /** Writes a new session's folder (session-folder.ts) and loads it. */
  private async materialize(state: SessionState, linkFrom: SegmentLink[]): Promise<Session> {
    const unsynced = await createSessionFolder(this.root, state.id, stateRecords(state), linkFrom, this.syncer);
    const s = await this.loadOne(state.id, false, unsynced);
    this.sessions.set(state.id, s);
    return s;
  }

  get(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new SessionNotFoundError(id);
    return s;
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /**
   * A new session sharing `id`'s first `at` tokens (default all). If the parent is resident its K/V
   * is copied (not recomputed); its snapshot segments are hard-linked.
   */
  fork(id: string, o: { at?: number; pinned?: boolean } = {}): Promise<Session> {
    const p = this.get(id);
    return p.op(async () => {
      this.o.admit?.(p.state.settings); // the child inherits the settings (and so the owner)
      const at = o.at ?? p.state.tokens.length;
      if (!Number.isInteger(at) || at < 0 || at > p.state.tokens.length) throw new SessionArgumentError(`fork at ${at}: session ${id} has ${p.state.tokens.length} tokens`);
      const now = Date.now();
      const state: SessionState = {
        id: ulid(), model: p.state.model, createdAt: now, lastUsedAt: now, tokens: p.state.tokens.slice(0, at),
        messages: p.state.messages.filter((m) => m.start < at).map((m) => ({ ...m, end: Math.min(m.end, at) })),
        tools: p.state.tools, settings: p.state.settings, parent: { id, at }, generated: 0,
      };
      const src = p.slot;
      const n = Math.min(at, src?.length ?? 0);
      // Room for the child now? If not, its K/V goes through disk (parent snapshot, hard links): still not recomputed.
      const room = this.residents.hasRoom(`fork-of-${id}`, Math.max(1, at) * this.format.bytesPerToken);
      if (!room && src) await this.snapshot(p);
      const links = p.segments.filter((g) => g.start < at).map((g) => ({ file: g.file, name: g.file.slice(kvDir(p.dir).length + 1) }));
      if (src && src.length === at) await checkpointHere(src, p.checkpoints, this.scheduler);
      const c = await this.materialize(state, links);
      c.pinned = o.pinned ?? false;
      // The child starts from the parent's checkpoints up to the fork point; both keep the fork point's.
      c.checkpoints.adopt(p.checkpoints.upTo(at));
      if (c.checkpoints.enabled) {
        c.checkpoints.pin(at);
        p.checkpoints.pin(at);
      }
      if (room && src && n > 0) {
        await c.op(async () => {
          const slot = await this.residents.resident(c, false, false).catch(() => null);
          if (!slot) return;
          await this.scheduler.exclusive(() => slot.copyFrom(src, n));
          const rewound = await syncState(slot, c.checkpoints, this.scheduler); // the state from the fork point's checkpoint
          if (!rewound && n === p.state.tokens.length && n === at && p.lastLogits) c.lastLogits = Float32Array.from(p.lastLogits);
          c.counters.reused += slot.length;
          this.touched(c);
        });
      }
      return c;
    });
  }

  /** Deletes a session: slot freed, directory removed (atomically renamed away first). */
  delete(id: string): Promise<void> {
    const s = this.get(id);
    return s.op(async () => {
      s.deleted = true;
      this.sessions.delete(id);
      if (s.state.parent && s.checkpoints.enabled) this.sessions.get(s.state.parent.id)?.checkpoints.unpin(s.state.parent.at);
      this.residents.release(s);
      await s.journal.close();
      const trash = join(this.root, `.trash-${id}`);
      await rename(s.dir, trash);
      await fsyncDir(this.root);
      await rm(trash, { recursive: true, force: true });
    });
  }

  /** Pins (never spilled) or unpins a session. */
  pin(id: string, on = true): void {
    this.get(id).pinned = on;
  }

  memory(): MemoryReport {
    const list = this.list().map((s) => ({
      id: s.id, tokens: s.state.tokens.length, resident: !!s.slot, pinned: s.pinned, residentBytes: s.slot?.residentBytes() ?? 0,
      checkpoints: s.checkpoints.count, checkpointBytes: s.checkpoints.bytes,
    }));
    return {
      residentSessions: list.filter((s) => s.resident).length,
      kvBytes: list.reduce((a, s) => a + s.residentBytes, 0),
      stateBytes: this.format.stateBytes,
      checkpointBytes: list.reduce((a, s) => a + s.checkpointBytes, 0),
      checkpointCount: list.reduce((a, s) => a + s.checkpoints, 0),
      bytesPerToken: this.format.bytesPerToken,
      ...this.residents.figures(),
      sessions: list,
    };
  }

  /** Spills a session now (snapshot + free slot). */
  spill(id: string): Promise<void> {
    const s = this.get(id);
    return s.op(() => this.residents.spill(s));
  }

  /** Waits for background snapshots; snapshots resident sessions (unless `snapshot: false`), closes files. */
  async close(o: { snapshot?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.residents.settle();
    this.closed = true;
    for (const s of this.list()) {
      await s.lane.run(async () => {
        if (s.slot && o.snapshot !== false) await this.snapshot(s).catch((e) => this.warn(`snapshot of ${s.id} on close failed: ${e}`));
        else if (o.snapshot !== false) await persistCheckpoints(s.dir, this.format.model, s.state.tokens, s.checkpoints).catch((e) => this.warn(`checkpoints of ${s.id} on close: ${e}`));
        this.residents.release(s);
        await s.journal.close();
      });
    }
    await this.syncer.flush();
    this.residents.dispose();
    if (this.ownScheduler) this.scheduler.close();
  }

  // ---- SessionHost ----

  check(s: Session): void {
    if (this.closed) throw new StoreClosedError('session store is closed');
    if (s.deleted) throw new SessionNotFoundError(s.id);
  }

  resident(s: Session): Promise<KvSlot> {
    return this.residents.resident(s);
  }

  touched(s: Session): void {
    this.residents.touched(s);
  }

  async truncated(s: Session): Promise<void> {
    await pruneSegments(s);
    s.journal = await compactIfLarge(s.journal, s.state);
  }

  snapshot(s: Session): Promise<number> {
    return this.residents.snapshot(s);
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('session store is closed');
  }
}
