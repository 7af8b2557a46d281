/** Our engine as a benchmark backend. */
import type { Engine, KvSlot } from '../../engine/engine-api.js';
import { argmax } from '../../engine/decode/logit-math.js';
import { NgramDrafter, speculativeGreedy } from '../../engine/decode/speculative.js';
import type { BenchBackend, BenchSequence } from './workload.js';

/** Wraps a loaded engine; each sequence is one KV slot. */
export function residentBackend(engine: Engine): BenchBackend {
  return {
    name: 'resident',
    async open(capacity: number): Promise<BenchSequence> {
      const slot: KvSlot = engine.createSlot(capacity);
      const drafter = new NgramDrafter();
      let next = -1;
      return {
        async prefill(tokens) {
          const [out] = await engine.forward([{ slot, tokens, logits: 'last' }]);
          drafter.push(tokens);
          next = argmax(out!.data);
        },
        async decodeSpeculative(n) {
          const { tokens, stats } = await speculativeGreedy(engine, slot, next, { maxTokens: n + 1, drafter });
          next = tokens[tokens.length - 1]!;
          return stats.accepted / stats.steps;
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
    async openMany(n: number, capacity: number): Promise<BenchSequence> {
      const slots: KvSlot[] = Array.from({ length: n }, () => engine.createSlot(capacity));
      let next: number[] = [];
      const step = async (tokens: (s: number) => number[]) => {
        const outs = await engine.forward(slots.map((slot, s) => ({ slot, tokens: tokens(s), logits: 'last' as const })));
        next = outs.map((o) => argmax(o.data));
      };
      return {
        async prefill(tokens) {
          await step(() => tokens);
        },
        async decode(steps) {
          for (let i = 0; i < steps; i++) await step((s) => [next[s]!]);
        },
        async close() {
          for (const s of slots) s.dispose();
        },
      };
    },
    async close() {},
  };
}
