/** The defaults `resident serve` derives where flags are silent (runtime/host/fast-defaults.ts): pure rules. */
import { describe, expect, it } from 'vitest';
import { defaultKvBudget, defaultSlots, resolveActivations, TYPICAL_SESSION_TOKENS } from '../../runtime/host/fast-defaults.js';

describe('activations auto', () => {
  it('picks bf16 exactly for BF16 native weights on a CPU with AVX512_BF16', () => {
    for (const dtype of ['bf16', 'f16', 'f32'] as const) {
      for (const weights of ['native', 'int8'] as const) {
        for (const dot of [true, false]) {
          const want = dtype === 'bf16' && weights === 'native' && dot ? 'bf16' : 'f32';
          expect(resolveActivations('auto', dtype, weights, dot).mode, `${dtype} ${weights} dot=${dot}`).toBe(want);
        }
      }
    }
  });
  it('keeps an explicit choice (--activations f32 opts out)', () => {
    expect(resolveActivations('f32', 'bf16', 'native', true)).toEqual({ mode: 'f32', why: '--activations f32' });
    expect(resolveActivations('bf16', 'bf16', 'native', false).mode).toBe('bf16');
  });
});

describe('KV budget and slots from memory', () => {
  const GiB = 2 ** 30;
  it('budgets half the memory left after the weights, within [256 MiB, 64 GiB]', () => {
    expect(defaultKvBudget(20 * GiB, 4 * GiB)).toBe(8 * GiB);
    expect(defaultKvBudget(1 * GiB, 2 * GiB)).toBe(256 * 2 ** 20);
    expect(defaultKvBudget(1000 * GiB, 0)).toBe(64 * GiB);
  });
  it('fits typical sessions into the budget, within [2, 64]', () => {
    const bpt = 114688; // Qwen3-0.6B, BF16 KV: 28 layers × 2 × 8 heads × 128 × 2 bytes
    const per = bpt * TYPICAL_SESSION_TOKENS;
    expect(defaultSlots(10 * per + 5, bpt, 0, 40960)).toBe(10);
    expect(defaultSlots(10 * (bpt * 2048 + 1000), bpt, 1000, 2048)).toBe(10); // a short context: sessions of the context size, plus a recurrent state
    expect(defaultSlots(per, bpt, 0, 40960)).toBe(2);
    expect(defaultSlots(1000 * per, bpt, 0, 40960)).toBe(64);
    // more memory, more slots
    expect(defaultSlots(defaultKvBudget(64 * GiB, GiB), bpt, 0, 40960)).toBeGreaterThan(defaultSlots(defaultKvBudget(8 * GiB, GiB), bpt, 0, 40960));
  });
});
