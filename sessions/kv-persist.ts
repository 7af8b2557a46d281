/** A session's KV on disk (`<session>/kv/`, docs/formats.md): loading segment heads, writing a snapshot segment, restoring a slot. */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KvSlot } from '../engine/engine-api.js';
import type { Scheduler } from '../engine/scheduler.js';
import { isAtomicTemp } from '../engine/util/atomic-file.js';
import { prefixHash } from './checksum.js';
import { planRestore, unusedSegments, type SegmentRef } from './kv-plan.js';
import { loadSegmentData, parseSegmentName, readSegmentInfo, segmentName, writeSegment, type SegmentInfo } from './snapshot.js';
import type { Session } from './session.js';

/** A segment file on disk with its checked head. */
export interface StoredSegment extends SegmentRef {
  info: SegmentInfo;
}

export interface KvFormat {
  /** Engine fingerprint + dtypes. */
  model: string;
  bytesPerToken: number;
  /** Bytes of the slot's recurrent state (0 without linear-attention layers). */
  stateBytes: number;
  /** Positions per chunk of a segment file. */
  chunkPositions: number;
}

export const kvDir = (sessionDir: string) => join(sessionDir, 'kv');

/** Moves a damaged file aside (`<name>.bad`) so it is never loaded again. */
export async function quarantine(file: string): Promise<void> {
  await rename(file, `${file}.bad`).catch(() => rm(file, { force: true }));
}

/** Reads every segment head of a session; damaged or foreign ones are quarantined and reported through `warn`. */
export async function loadSegments(sessionDir: string, sessionId: string, f: KvFormat, warn: (msg: string) => void): Promise<StoredSegment[]> {
  const dir = kvDir(sessionDir);
  await mkdir(dir, { recursive: true });
  const out: StoredSegment[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const file = join(dir, name);
    if (isAtomicTemp(name)) {
      await rm(file, { force: true });
      continue;
    }
    if (!parseSegmentName(name)) continue;
    try {
      out.push(toStored(await readSegmentInfo(file, sessionId, f.model, f.bytesPerToken)));
    } catch (e) {
      warn(`${(e as Error).name}: ${(e as Error).message}`);
      await quarantine(file);
    }
  }
  return out;
}

function toStored(info: SegmentInfo): StoredSegment {
  const h = info.header;
  return { file: info.file, start: h.start, end: h.end, prefixHash: h.prefixHash, tokens: info.tokens, info };
}

/** Positions of the session restorable from its segments. */
export function coveredBy(segs: readonly StoredSegment[], tokens: readonly number[]): number {
  return planRestore(segs, tokens).covered;
}

/**
 * Writes one segment for slot positions [covered, slot.length) (all journaled tokens). KV is read
 * chunk by chunk between scheduler steps. Returns positions written.
 */
export async function writeSnapshot(s: Session, slot: KvSlot, scheduler: Scheduler, f: KvFormat): Promise<number> {
  const start = coveredBy(s.segments, s.state.tokens);
  const end = slot.length;
  if (end <= start) return 0;
  const tokens = s.state.tokens.slice(start, end);
  const file = join(kvDir(s.dir), segmentName(start, end));
  const head = { model: f.model, bytesPerToken: f.bytesPerToken, start, end, prefixHash: prefixHash(s.state.tokens, start) };
  await writeSegment(file, head, tokens, f.chunkPositions, (a, b, into) => scheduler.exclusive(() => slot.readKv(a, b, into)));
  const info: SegmentInfo = {
    file,
    header: { format: 'resident-kv', ...head, chunks: Math.ceil((end - start) / f.chunkPositions), createdAt: Date.now() },
    tokens,
    dataOffset: -1,
  };
  // Re-read the head so dataOffset and header are exactly what a restart would see.
  const checked = await readSegmentInfo(file, s.id, f.model, f.bytesPerToken).catch(() => info);
  s.segments = s.segments.filter((g) => g.file !== file);
  s.segments.push(toStored(checked));
  await pruneSegments(s);
  return end - start;
}

/** Deletes segments that no longer serve the session's tokens; updates `covered`. */
export async function pruneSegments(s: Session): Promise<void> {
  const dead = unusedSegments(s.segments, s.state.tokens);
  for (const d of dead) await rm(d.file, { force: true });
  s.segments = s.segments.filter((g) => !dead.includes(g));
  s.covered = coveredBy(s.segments, s.state.tokens);
}

/**
 * Loads the session's K/V from its segments into an empty `slot` via writeKv. A damaged segment is
 * reported, quarantined and skipped; K/V already written from its good chunks stays (each chunk is
 * checked before use). Returns positions restored; tokens past them are fed by the next operation.
 */
export async function restoreKv(s: Session, slot: KvSlot, scheduler: Scheduler, warn: (msg: string) => void): Promise<number> {
  for (;;) {
    const { steps } = planRestore(s.segments, s.state.tokens, slot.length);
    if (!steps.length) break;
    const { seg, upTo } = steps[0]!;
    try {
      if (slot.length > seg.start) slot.truncate(seg.start);
      await loadSegmentData(seg.info, s.id, upTo, (at, data) => scheduler.exclusive(() => slot.writeKv(at, data)));
      if (slot.length > upTo) slot.truncate(upTo);
    } catch (e) {
      warn(`${(e as Error).name}: ${(e as Error).message}`);
      await quarantine(seg.file);
      s.segments = s.segments.filter((g) => g !== seg);
    }
  }
  s.covered = coveredBy(s.segments, s.state.tokens);
  return slot.length;
}
