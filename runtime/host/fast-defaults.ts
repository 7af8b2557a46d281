/**
 * What `resident serve` (and `resident bench`) pick where the flags are silent, so the defaults are the fast
 * configuration of this machine and model; each choice comes with the line printed at start.
 *   - activations: bf16 exactly where the weights are BF16 (native, not int8) and the engine's kernels multiply
 *     bf16 pairs on this CPU (AVX512_BF16); f32 otherwise. `--activations f32` opts out.
 *   - KV budget: half of the memory available at start after the weights, within [256 MiB, 64 GiB].
 *   - slots: how many typical sessions (min(context, 8192) tokens of KV, plus a recurrent state) fit the KV
 *     budget, within [2, 64].
 */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import type { ActivationMode, WeightMode } from '../../engine/engine-api.js';
import type { WeightDType } from '../../engine/model/model-spec.js';

/** Tokens of KV a typical resident session holds (an agent conversation), for the default slot count. */
export const TYPICAL_SESSION_TOKENS = 8192;
const MIN_BUDGET = 256 * 2 ** 20;
const MAX_BUDGET = 64 * 2 ** 30;
const MIN_SLOTS = 2;
const MAX_SLOTS = 64;

/** The activation mode for a request (`auto` resolves as described above) and why. */
export function resolveActivations(requested: ActivationMode | 'auto', weightDtype: WeightDType, weights: WeightMode, bf16Dot: boolean, label: string = weightDtype): { mode: ActivationMode; why: string } {
  if (requested !== 'auto') return { mode: requested, why: `--activations ${requested}` };
  if (weightDtype !== 'bf16') return { mode: 'f32', why: `f32 activations (${label} weights)` };
  if (weights !== 'native') return { mode: 'f32', why: `f32 activations (${weights} weights)` };
  if (!bf16Dot) return { mode: 'f32', why: 'f32 activations (the CPU or kernel level has no AVX512_BF16)' };
  return { mode: 'bf16', why: 'bf16 activations (BF16 weights on an AVX512_BF16 CPU; --activations f32 opts out)' };
}

/** Bytes of memory available for new allocations: MemAvailable of /proc/meminfo, else the free memory. */
export function availableMemoryBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/** Default KV budget: half of what is available after the weights, within [256 MiB, 64 GiB]. */
export function defaultKvBudget(availableBytes: number, weightBytes: number): number {
  return Math.min(MAX_BUDGET, Math.max(MIN_BUDGET, Math.floor((availableBytes - weightBytes) / 2)));
}

/** Default slot count: typical sessions that fit the KV budget, within [2, 64]. */
export function defaultSlots(kvBudgetBytes: number, bytesPerToken: number, stateBytes: number, capacity: number): number {
  const perSession = bytesPerToken * Math.min(capacity, TYPICAL_SESSION_TOKENS) + stateBytes;
  return Math.min(MAX_SLOTS, Math.max(MIN_SLOTS, Math.floor(kvBudgetBytes / perSession)));
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GiB`;

/** The start-up line for slots and KV budget (derived or given). */
export function capacityNote(o: { slots: number; slotsGiven: boolean; kvBudgetBytes: number; budgetGiven: boolean; bytesPerToken: number; stateBytes: number; capacity: number }): string {
  const typical = Math.min(o.capacity, TYPICAL_SESSION_TOKENS);
  const per = o.bytesPerToken * typical + o.stateBytes;
  const budget = o.budgetGiven ? `KV budget ${gib(o.kvBudgetBytes)} (--kv-budget)` : `KV budget ${gib(o.kvBudgetBytes)} (half the available memory after the weights)`;
  const slots = o.slotsGiven ? `${o.slots} slots (--slots)` : `${o.slots} slots (the budget / ${gib(per)} per ${typical}-token session; --slots N overrides)`;
  return `${slots}, ${budget}`;
}
