/**
 * The one entry for `--model PATH`: a Hugging Face folder (config.json + safetensors, hf-model.ts) or a GGUF model
 * (a .gguf file, a folder holding one, or a split set; gguf-model.ts).
 */
import { loadGgufModelSpec, ggufModelFiles } from './gguf-model.js';
import { loadModelSpec } from './hf-model.js';
import type { ModelSpec, TensorDType } from './model-spec.js';

/** Whether `path` names a GGUF model (file, folder holding one, or split set) rather than a Hugging Face folder. */
export function isGgufModel(path: string): boolean {
  return ggufModelFiles(path) !== undefined;
}

/** Loads the model at `path`, either format. Throws ModelLoadError / UnsupportedModelError naming the file and tensor. */
export async function loadModelSpecFrom(path: string): Promise<ModelSpec<TensorDType>> {
  return isGgufModel(path) ? loadGgufModelSpec(path) : loadModelSpec(path);
}
