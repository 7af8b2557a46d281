/**
 * The engine on a GGUF file against llama.cpp (node-llama-cpp, F32 KV) on the same file: our writer's F32 GGUF of
 * tiny / tiny-hybrid / tiny-minimax (llama.cpp then computes in f32 as we do: tight bound) and the BF16 GGUF of tiny (llama.cpp
 * rounds activations to bf16 on a BF16 file; ours does with `activations: 'bf16'`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import { loadEngine } from '../../engine/native.js';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { compareWithOracle, emptyStats } from '../support/oracle-compare.js';
import { ensureModel } from '../support/models.js';
import { randomTokens } from '../support/numeric.js';

// F32 files: 1.5e-4 – 2.8e-4 measured (AVX2); BF16: both round activations to bf16, at different points: 0.25 (AVX2) – 0.51 measured
const CASES = [
  { preset: 'tiny', file: 'f32', activations: 'f32', maxDiff: 1e-3 },
  { preset: 'tiny-hybrid', file: 'f32', activations: 'f32', maxDiff: 1e-3 },
  { preset: 'tiny-minimax', file: 'f32', activations: 'f32', maxDiff: 1e-3 },
  { preset: 'tiny', file: 'bf16', activations: 'bf16', maxDiff: 0.75 },
] as const;

describe.each(CASES)('$preset: engine on the $file GGUF vs llama.cpp on the same file', ({ preset, file, activations, maxDiff }) => {
  it('agrees at every position of a 200-token prompt (top-1 ≥ 99 %, |Δ log-prob| bounded)', async () => {
    const m = await ensureModel(preset, 'bf16', { gguf: true });
    let gguf = m.gguf!;
    if (file === 'f32') {
      gguf = join(m.dir, 'model-f32-upcast.gguf');
      if (!existsSync(gguf)) await writeGgufFromFolder(m.dir, gguf, { matrixDtype: 'f32' });
    }
    const spec = await loadModelSpecFrom(gguf);
    expect(spec.format).toBe('gguf');
    const engine = await loadEngine(spec, { threads: 2, activations });
    const tokens = randomTokens(200, 7);
    const oracle = await LlamaOracle.open(gguf, { contextSize: 512 });
    try {
      const slot = engine.createSlot(512, 'f32');
      const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
      const s = emptyStats();
      compareWithOracle(await oracle.evaluate(tokens), out!.data, out!.positions, s, spec.config.vocabSize);
      console.log(`GGUF engine vs llama.cpp (${preset}, ${file} file, ${activations} activations): top-1 ${s.top1}/${s.positions}, max |Δ logprob| ${s.maxDiff.toExponential(2)}`);
      expect(s.positions).toBe(200);
      expect(s.top1 / s.positions).toBeGreaterThanOrEqual(0.99);
      expect(s.maxDiff).toBeLessThanOrEqual(maxDiff);
    } finally {
      await oracle.dispose();
      engine.dispose();
    }
  }, 600_000);
});
