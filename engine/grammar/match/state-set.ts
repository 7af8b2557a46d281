/**
 * Sets of matcher states (nondeterminism from unions): stepping a set by a byte or by a
 * token's bytes, and a stable key of a set for memoization.
 */
import { dedupe, frameKey, step, type Frame } from './value-matcher.js';

/** Steps every state of `states` by byte `b`; null when none survives. */
export function stepSet(states: Frame[], b: number, unique = true): Frame[] | null {
  const out: Frame[] = [];
  for (let i = 0; i < states.length; i++) step(states[i], b, out);
  if (out.length === 0) return null;
  return out.length > 1 && (unique || out.length > 8) ? dedupe(out) : out;
}

/** Steps states by a token's bytes; null when the token is not allowed. */
export function stepBytes(states: Frame[], bytes: Uint8Array): Frame[] | null {
  let cur: Frame[] | null = states;
  for (let i = 0; i < bytes.length && cur; i++) cur = stepSet(cur, bytes[i]);
  return cur;
}

/** Key of a state set. */
export function setKey(states: Frame[]): string {
  return states.length === 1 ? frameKey(states[0]) : states.map(frameKey).sort().join('\n');
}
