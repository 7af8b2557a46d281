/**
 * Keeping a slot's recurrent state (hybrid models) in step with its KV through a session's checkpoints:
 * rewinding a stale slot to the nearest checkpoint, and prefilling with checkpoints taken at chosen
 * positions at no extra forward cost. With stateBytes = 0 every function returns at once.
 */
import type { KvSlot } from '../engine/engine-api.js';
import type { Scheduler } from '../engine/scheduler.js';
import type { StateCheckpoints } from './state-checkpoints.js';

/**
 * Makes the slot usable for a forward: if its state is not at its length, cuts it back to the nearest
 * checkpoint c ≤ length and writes that state (no checkpoint: position 0, the zero state). The positions
 * [c, old length) are fed again lazily by the next operation. Returns whether the slot changed.
 */
export async function syncState(slot: KvSlot, cps: StateCheckpoints, scheduler: Scheduler): Promise<boolean> {
  if (slot.stateBytes === 0 || slot.statePosition === slot.length) return false;
  const c = cps.best(slot.length);
  if (!c) {
    slot.truncate(0); // the zero state of position 0
    return true;
  }
  if (slot.length !== c.position) slot.truncate(c.position);
  await scheduler.exclusive(() => slot.writeState(c.position, c.bytes));
  return true;
}

/** Cuts the slot to n positions, then syncState. */
export async function rewindSlot(slot: KvSlot, n: number, cps: StateCheckpoints, scheduler: Scheduler): Promise<void> {
  if (slot.length > n) slot.truncate(n);
  await syncState(slot, cps, scheduler);
}

/** Takes a checkpoint at the slot's end if its state is current there and none exists yet. */
export async function checkpointHere(slot: KvSlot, cps: StateCheckpoints, scheduler: Scheduler): Promise<void> {
  if (!cps.enabled || slot.statePosition !== slot.length || cps.get(slot.length)) return;
  const at = slot.length;
  const bytes = await scheduler.exclusive(() => slot.readState());
  cps.add(at, bytes);
}

/**
 * Prefills `tokens` at the slot's end and returns the last position's logits. With a recurrent state the
 * feed is split at the absolute positions `marks` inside it, and a checkpoint is taken at each mark and
 * at the end (each piece is fed, its state read, then the next piece: the same positions are forwarded).
 * Returns what scheduler.prefill returns for the last piece (only the last piece asks for logits; none with `logits: false`).
 */
export async function prefillMarked(
  scheduler: Scheduler,
  slot: KvSlot,
  tokens: number[],
  cps: StateCheckpoints,
  marks: readonly number[],
  o: { signal?: AbortSignal; priority?: number; logits?: boolean },
): Promise<Float32Array | null> {
  if (!cps.enabled) return scheduler.prefill({ slot, tokens, signal: o.signal, priority: o.priority, logits: o.logits });
  const start = slot.length;
  const end = start + tokens.length;
  const cuts = [...new Set(marks)].filter((m) => m > start && m < end).sort((a, b) => a - b);
  cuts.push(end);
  let logits: Float32Array | null = null;
  let at = start;
  for (const cut of cuts) {
    const last = cut === end;
    logits = await scheduler.prefill({ slot, tokens: tokens.slice(at - start, cut - start), signal: o.signal, priority: o.priority, logits: last && o.logits !== false });
    at = cut;
    await checkpointHere(slot, cps, scheduler);
  }
  return logits;
}
