/** The engine a sessions test runs on (a generated test model) and the fresh-prefill reference it compares with. */
import type { Engine, EngineOptions } from '../../engine/engine-api.js';

/** Loads `preset` (F32) in the native engine; throws with the reason when the model or engine is unavailable. */
export async function loadPresetEngine(preset: string, o: Partial<EngineOptions> = {}): Promise<{ engine: Engine; dir: string }> {
  const { ensureModel } = await import('./models.js');
  const { loadModelSpec } = await import('../../engine/model/hf-model.js');
  const { loadEngine } = await import('../../engine/native.js');
  const dir = (await ensureModel(preset, 'f32')).dir;
  return { engine: await loadEngine(await loadModelSpec(dir), { threads: 2, ...o }), dir };
}

/** Logits after a fresh prefill of `tokens` in a new slot. */
export async function freshLogits(engine: Engine, tokens: readonly number[]): Promise<Float32Array> {
  const slot = engine.createSlot(tokens.length + 8);
  try {
    const [r] = await engine.forward([{ slot, tokens: [...tokens] }]);
    return r!.data;
  } finally {
    slot.dispose();
  }
}

/** max |a[i] − b[i]| (lengths must match). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
