/** An Engine that delegates to another and reports the wall time of every forward call (one scheduler step). */
import type { Engine, EngineCounters, EntryLogits, ForwardEntry, ForwardOptions, KvDType, KvSlot } from '../../engine/engine-api.js';

/** Wraps `inner`; `onStep(seconds, tokens)` runs after each successful forward. Slots stay `inner`'s; optional methods are passed through. */
export function timedEngine(inner: Engine, onStep: (seconds: number, tokens: number) => void): Engine {
  const optional: Partial<Engine> = {};
  if (inner.expertStats) optional.expertStats = () => inner.expertStats!();
  if (inner.resetExpertStats) optional.resetExpertStats = () => inner.resetExpertStats!();
  return {
    ...optional,
    get config() { return inner.config; },
    get weightDtype() { return inner.weightDtype; },
    get weightMode() { return inner.weightMode; },
    get activationMode() { return inner.activationMode; },
    get packedWeights() { return inner.packedWeights; },
    get quantPanels() { return inner.quantPanels; },
    get weightPages() { return inner.weightPages; },
    get fingerprint() { return inner.fingerprint; },
    get threads() { return inner.threads; },
    get maxBatchTokens() { return inner.maxBatchTokens; },
    get kernels() { return inner.kernels; },
    createSlot: (capacity: number, kvDtype?: KvDType): KvSlot => inner.createSlot(capacity, kvDtype),
    async forward(entries: ForwardEntry[], o?: ForwardOptions): Promise<EntryLogits[]> {
      const t0 = performance.now();
      const out = await inner.forward(entries, o);
      onStep((performance.now() - t0) / 1000, entries.reduce((a, e) => a + e.tokens.length, 0));
      return out;
    },
    counters: (): EngineCounters => inner.counters(),
    dispose: () => inner.dispose(),
  };
}
