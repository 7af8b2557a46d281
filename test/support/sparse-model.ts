/**
 * A model folder whose weights are all zero, written as a sparse file in milliseconds: for tests that
 * need a real shape (e.g. qwen3-0.6b's KV layout) but not real numbers.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expectedTensors } from '../../engine/model/hf-model.js';
import { hfConfigJson } from '../../engine/synth/make-model.js';
import type { ModelConfig } from '../../engine/model/model-spec.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';

/** Writes config.json and a sparse all-zero F32 model.safetensors for `config` into `dir`. */
export function writeZeroModel(dir: string, config: ModelConfig): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfigJson(config, 'f32')));
  const tensors = expectedTensors(config).map((t) => ({ name: t.name, dtype: 'f32' as const, shape: t.shape }));
  const { prefix, dataBytes } = buildSafetensorsHeader(tensors);
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  try {
    writeSync(fd, prefix);
    ftruncateSync(fd, prefix.length + dataBytes);
  } finally {
    closeSync(fd);
  }
}
