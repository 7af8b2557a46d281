/**
 * A model family: everything the TypeScript side knows about one architecture (or a dense / MoE pair sharing almost
 * everything), in one module under engine/model/families/. The loaders (hf-model.ts, gguf-config.ts,
 * gguf-tensors.ts, native.ts) consult the registry (registry.ts) and never branch on architecture names; a new
 * family is one module here plus its forward file in engine/native/models/ and its line in architectures.cpp.
 */
import type { ExpectedTensor, ModelConfig } from '../model-spec.js';
import type { ConfigReader } from './hf-config.js';
import type { GgufReader, GgufShape } from './gguf-helpers.js';

/** Where a Hugging Face tensor comes from in a GGUF, and how the converter rewrote it (undone at load, gguf-tensors.ts). */
export interface GgufSource {
  /** GGUF tensor name (`blk.i.…` for layer i). */
  gguf: string;
  /** Expert index within a stacked `ffn_*_exps` tensor: the TensorRef is that expert's byte range. */
  slice?: number;
  /** norm1: zero-centred norm written as 1 + w; alog: A written as -exp(A_log); rows / rows1 / cols: value heads regrouped. */
  fix?: 'norm1' | 'alog' | 'rows' | 'cols' | 'rows1';
  /** rows: the first row (value) that was regrouped. */
  from?: number;
}

/** One registered model family. */
export interface ModelFamily {
  /** Short name for messages and the README ('Qwen3', 'MiniMax-M2'). */
  readonly name: string;
  /** The `ModelConfig.arch` ids this family produces (one per variant). */
  readonly archs: readonly string[];
  /** Hugging Face `architectures` strings it loads, in order of preference. */
  readonly hfArchitectures: readonly string[];
  /** GGUF `general.architecture` names it loads (each is also the arch id of the config it yields). */
  readonly ggufArchitectures: readonly string[];
  /**
   * config.json (+ generation_config.json) → ModelConfig, for the matched `hfArchitecture`; the family's *Config
   * defaults; UnsupportedModelError for options the forward does not implement. `r.raw` is config.json as read.
   */
  parseHfConfig(r: ConfigReader, hfArchitecture: string, gen: Record<string, unknown> | undefined): ModelConfig;
  /** Every tensor a checkpoint must hold (Hugging Face names, row-major shapes), in canonical order. */
  expectedTensors(c: ModelConfig): ExpectedTensor[];
  /**
   * Checkpoint tensors that are recognised but not loaded (a vision tower, an MTP head): named by what they are.
   * Present: any other unexpected tensor is refused (a variant we would run wrong). Absent: extra tensors are ignored.
   */
  ignoredTensor?(name: string): string | undefined;
  /** The family's part of a GGUF config: the intermediate size, MoE, partial rotary, layer kinds (`shape` is read and checked). */
  ggufConfig(r: GgufReader, shape: GgufShape): Partial<ModelConfig> & { intermediateSize: number };
  /** The GGUF tensor of a Hugging Face name (undefined: none maps to it). */
  ggufSource(c: ModelConfig, hfName: string): GgufSource | undefined;
  /** The binding list of a GGUF when it differs from expectedTensors (e.g. fused tensors GGUF keeps apart). */
  ggufBindingTensors?(c: ModelConfig): ExpectedTensor[];
  /**
   * The architecture-specific fields of the addon's config (engine/native/addon/args.cpp): `arch` (the forward file
   * in engine/native/models/architectures.cpp), `inter`, and e.g. `ropeDim`, `layerTypes`; throws
   * UnsupportedModelError for a config the forward cannot run (`where` names the model).
   */
  nativeParams(c: ModelConfig, where: string): { arch: string; inter: number } & Record<string, unknown>;
}

/** True when layer `i` of the model uses the sparse MoE block (HF's Qwen3Moe rule; every layer of a Qwen3.5-MoE / MiniMax-M2). */
export function isMoeLayer(config: ModelConfig, i: number): boolean {
  const m = config.moe;
  if (!m || m.numExperts <= 0) return false;
  return !m.mlpOnlyLayers.includes(i) && (i + 1) % m.decoderSparseStep === 0;
}
