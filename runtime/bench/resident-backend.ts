/** Our engine as a benchmark backend. */
import type { Engine, KvSlot } from '../../engine/engine-api.js';
import type { BenchBackend, BenchSequence } from './workload.js';

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Wraps a loaded engine; each sequence is one KV slot. */
export function residentBackend(engine: Engine): BenchBackend {
  return {
    name: 'resident',
    async open(capacity: number): Promise<BenchSequence> {
      const slot: KvSlot = engine.createSlot(capacity);
      let next = -1;
      return {
        async prefill(tokens) {
          const [out] = await engine.forward([{ slot, tokens, logits: 'last' }]);
          next = argmax(out!.data);
        },
        async decode(n) {
          for (let i = 0; i < n; i++) {
            const [out] = await engine.forward([{ slot, tokens: [next], logits: 'last' }]);
            next = argmax(out!.data);
          }
        },
        async close() {
          slot.dispose();
        },
      };
    },
    async close() {},
  };
}
