/** Logit bias and repetition / presence / frequency penalties, applied in place to a row of logits. */
import type { SamplingParams } from './sampler.js';

/**
 * vals[indexOf(t)] += logitBias[t]; then each token t seen c times in the last `penaltyLastN` of `recent` (vocabulary
 * ids < V) is penalised: l → (l > 0 ? l / rep : l · rep) − presence − frequency · c. indexOf(t) < 0: t is not in
 * `vals` (masked out or beyond it); −∞ entries stay −∞ (masked tokens stay masked).
 */
export function biasAndPenalise(vals: Float32Array, indexOf: (t: number) => number, p: SamplingParams, recent: readonly number[]): void {
  for (const [t, b] of p.logitBias ?? []) {
    const j = indexOf(t);
    if (j >= 0 && vals[j] !== -Infinity) vals[j] += b;
  }
  const rep = p.repetitionPenalty ?? 1;
  const pres = p.presencePenalty ?? 0;
  const freq = p.frequencyPenalty ?? 0;
  const lastN = p.penaltyLastN ?? 64;
  if ((rep === 1 && pres === 0 && freq === 0) || lastN === 0 || recent.length === 0) return;
  const counts = new Map<number, number>();
  for (let i = lastN < 0 ? 0 : Math.max(0, recent.length - lastN); i < recent.length; i++) {
    const t = recent[i]!;
    if (t >= 0) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [t, c] of counts) {
    const j = indexOf(t);
    if (j < 0) continue;
    let l = vals[j]!;
    if (l === -Infinity) continue;
    if (rep !== 1) l = l > 0 ? l / rep : l * rep;
    vals[j] = l - pres - freq * c;
  }
}
