/**
 * Step planning for the scheduler (pure): which sequences run in the next forward call and how many
 * tokens each feeds, under a per-step token budget.
 * Policy: every decoding sequence feeds its one token first (oldest-waiting first if they exceed the
 * budget). Prefills share the rest: short ones (≤ shortThreshold remaining tokens, e.g. a tool
 * result) go ahead of long ones (a document), but while a long one waits it is reserved a
 * `longShare` of the prefill budget so it cannot starve. Within a class: priority desc, then FIFO.
 * While any sequence decodes, prefills that cannot finish in the step get together at most `prefillWithDecodes`
 * tokens of it (chunked prefill interleaved with decode: a long prompt never freezes the other streams; the
 * scheduler sizes it from measured step times, see scheduler-share.ts); one that fits is fed whole, unless it
 * was already split (a long prompt's tail is capped like the rest of it: fed whole, the last ≤ budget tokens
 * of a 16k prompt would make one step at its full depth).
 */

export interface PlanJob {
  id: number;
  kind: 'decode' | 'prefill';
  /** Tokens still to feed (decode: 1). */
  remaining: number;
  /** Higher runs first within its class. */
  priority: number;
  /** Arrival order. */
  seq: number;
  /** Steps this job has been passed over. */
  waited: number;
  /** Already fed in part (its chunking depends on timing anyway): never fed whole past the share. */
  split?: boolean;
}

export interface PlanOptions {
  /** Largest number of tokens in one forward call. */
  budget: number;
  /** A prefill with at most this many tokens left counts as short. */
  shortThreshold: number;
  /** Fraction of the prefill budget kept for long prefills while any waits (0..1). */
  longShare: number;
  /** Prefill tokens of a step in which some sequence decodes (≥ 1; default: the rest of the budget). */
  prefillWithDecodes?: number;
}

/** One sequence's share of a step. */
export interface PlanItem {
  id: number;
  n: number;
}

const byClassOrder = (a: PlanJob, b: PlanJob) => b.priority - a.priority || a.seq - b.seq;

/** Plans one step. Items are in the order decodes, then prefills; every n ≥ 1; sum(n) ≤ budget. */
export function planStep(jobs: readonly PlanJob[], o: PlanOptions): PlanItem[] {
  const out: PlanItem[] = [];
  const decodes = jobs.filter((j) => j.kind === 'decode').sort((a, b) => b.waited - a.waited || a.seq - b.seq);
  for (const d of decodes.slice(0, o.budget)) out.push({ id: d.id, n: 1 });
  let avail = o.budget - out.length;
  // while sequences decode, a prefill that cannot finish in this step is fed at most prefillWithDecodes tokens;
  // one that fits is fed whole (its chunking, and so its numerics, do not depend on timing)
  let longCap = out.length > 0 && o.prefillWithDecodes !== undefined ? Math.max(1, o.prefillWithDecodes) : Infinity;
  const prefills = jobs.filter((j) => j.kind === 'prefill' && j.remaining > 0);
  const shorts = prefills.filter((j) => j.remaining <= o.shortThreshold).sort(byClassOrder);
  const longs = prefills.filter((j) => j.remaining > o.shortThreshold).sort(byClassOrder);
  const reserve = longs.length ? Math.min(avail, Math.ceil(avail * o.longShare)) : 0;
  const given = new Map<number, number>();
  const give = (list: PlanJob[], cap: number) => {
    for (const j of list) {
      if (cap <= 0 || avail <= 0) break;
      const left = j.remaining - (given.get(j.id) ?? 0);
      const fits = left <= Math.min(cap, avail) && !(j.split && longCap < Infinity);
      const n = fits ? left : Math.min(left, cap, avail, longCap);
      if (n <= 0) continue;
      given.set(j.id, (given.get(j.id) ?? 0) + n);
      if (!fits) longCap -= n;
      cap -= n;
      avail -= n;
    }
  };
  give(shorts, avail - reserve);
  give(longs, avail);
  give(shorts, avail);
  for (const j of [...shorts, ...longs]) {
    const n = given.get(j.id);
    if (n) out.push({ id: j.id, n });
  }
  return out;
}
