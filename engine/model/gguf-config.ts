/**
 * A ModelConfig from GGUF metadata (`general.architecture` = qwen3 | qwen3moe | qwen35 | qwen35moe | minimax-m2 and
 * its `<arch>.*` keys, as convert_hf_to_gguf.py and engine/synth/gguf-writer.ts write them). Every key llama.cpp
 * requires is required here; an option the forward does not implement (RoPE scaling, other gating) is refused.
 * Vocabulary size = rows of token_embd; tied = no `output.weight`; hybrids bind under the 'model.' prefix.
 */
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import type { GgufMetadata } from './gguf-reader.js';
import type { LayerKind, ModelConfig } from './model-spec.js';

/** GGUF architectures the engine runs. */
export const GGUF_ARCHITECTURES = ['qwen3', 'qwen3moe', 'qwen35', 'qwen35moe', 'minimax-m2'] as const;

/** llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_{SOFTMAX, SIGMOID}. */
const GATING: Record<number, 'softmax' | 'sigmoid'> = { 1: 'softmax', 2: 'sigmoid' };

/** Tokens llama.cpp treats as end of generation by their text (llama-vocab.cpp's EOT/EOG lists, the Qwen and MiniMax ones). */
const EOG_TEXTS = ['<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<end_of_turn>', '<|end|>', '<|return|>', '[e~['];

/** What the config needs beyond the metadata: the tensor facts it depends on. */
export interface GgufConfigFacts {
  /** Rows of token_embd (ne[1]). */
  vocabSize: number;
  /** Whether the file has `output.weight` (else the embedding is tied). */
  hasOutput: boolean;
}

/** Parses the architecture metadata of a GGUF into a ModelConfig. Throws ModelLoadError / UnsupportedModelError naming the file and key. */
export function ggufModelConfig(meta: GgufMetadata, facts: GgufConfigFacts): ModelConfig {
  const file = meta.path;
  const a = meta.string('general.architecture');
  if (!(GGUF_ARCHITECTURES as readonly string[]).includes(a)) {
    throw new UnsupportedModelError(`${file}: unsupported GGUF architecture '${a}'; supported: ${GGUF_ARCHITECTURES.join(', ')}`, file);
  }
  const arch = a as ModelConfig['arch'];
  const int = (key: string, def?: number, min = 1): number => {
    const k = `${a}.${key}`;
    if (!meta.has(k)) {
      if (def === undefined) throw new ModelLoadError(`${file}: metadata '${k}' is missing`, file);
      return def;
    }
    const v = meta.number(k);
    if (!Number.isSafeInteger(v) || v < min) throw new ModelLoadError(`${file}: metadata '${k}' must be an integer ≥ ${min}, got ${v}`, file);
    return v;
  };
  const num = (key: string, def?: number): number => {
    const k = `${a}.${key}`;
    if (!meta.has(k) && def !== undefined) return def;
    const v = shortestF32(meta.number(k));
    if (!Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${file}: metadata '${k}' must be a positive number, got ${v}`, file);
    return v;
  };
  const unsupported = (what: string): never => {
    throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
  };
  const scaling = meta.has(`${a}.rope.scaling.type`) ? meta.string(`${a}.rope.scaling.type`) : 'none';
  if (scaling !== 'none') unsupported(`rope.scaling.type '${scaling}'`);
  if (meta.has(`${a}.attention.sliding_window`) && meta.number(`${a}.attention.sliding_window`) > 0) unsupported('sliding-window attention');

  const hiddenSize = int('embedding_length');
  const nLayers = int('block_count');
  const nHeads = int('attention.head_count');
  const nKvHeads = int('attention.head_count_kv', nHeads);
  const headDim = int('attention.key_length', Math.floor(hiddenSize / nHeads));
  if (int('attention.value_length', headDim) !== headDim) unsupported(`value_length ≠ key_length (${headDim})`);
  if (nHeads % nKvHeads !== 0) throw new ModelLoadError(`${file}: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`, file);
  if (headDim % 2 !== 0) throw new ModelLoadError(`${file}: key_length ${headDim} must be even`, file);
  const ropeDim = int('rope.dimension_count', headDim);
  const hybrid = arch === 'qwen35' || arch === 'qwen35moe';
  const minimax = arch === 'minimax-m2';
  if (!hybrid && !minimax && ropeDim !== headDim) unsupported(`rope.dimension_count ${ropeDim} ≠ key_length ${headDim} for ${arch}`);

  const config: ModelConfig = {
    arch,
    vocabSize: facts.vocabSize,
    hiddenSize,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    intermediateSize: arch === 'qwen35moe' || minimax ? 0 : int('feed_forward_length'),
    rmsNormEps: num('attention.layer_norm_rms_epsilon'),
    ropeTheta: num('rope.freq_base', 10000),
    maxPositionEmbeddings: int('context_length'),
    tieWordEmbeddings: !facts.hasOutput,
    eosTokenIds: ggufEndOfGenerationIds(meta),
  };
  if (meta.has('tokenizer.ggml.bos_token_id')) config.bosTokenId = meta.number('tokenizer.ggml.bos_token_id');
  if (minimax) config.ropeDim = ropeDim;
  if (arch === 'qwen3moe' || arch === 'qwen35moe' || minimax) {
    const numExperts = int('expert_count');
    const numExpertsPerTok = int('expert_used_count');
    if (numExpertsPerTok > numExperts) throw new ModelLoadError(`${file}: expert_used_count ${numExpertsPerTok} > expert_count ${numExperts}`, file);
    const gatingId = int('expert_gating_func', minimax ? 2 : 1);
    const gating = GATING[gatingId] ?? unsupported(`expert_gating_func ${gatingId}`);
    if (gating !== (minimax ? 'sigmoid' : 'softmax')) unsupported(`expert_gating_func ${gating} for ${arch}`);
    const norm = meta.has(`${a}.expert_weights_norm`) ? meta.bool(`${a}.expert_weights_norm`) : true; // llama.cpp renormalises qwen3moe / qwen35moe / minimax-m2 top-k
    if (!norm && arch !== 'qwen3moe') unsupported(`expert_weights_norm false for ${arch}`);
    config.moe = {
      numExperts,
      numExpertsPerTok,
      normTopkProb: norm,
      moeIntermediateSize: int('expert_feed_forward_length', minimax ? int('feed_forward_length') : undefined),
      decoderSparseStep: 1,
      mlpOnlyLayers: [],
    };
    if (arch === 'qwen35moe') config.moe.sharedExpertIntermediateSize = int('expert_shared_feed_forward_length');
    if (minimax) config.moe.gating = 'sigmoid';
  }
  if (hybrid) Object.assign(config, hybridFields(meta, a, nLayers, headDim, ropeDim));
  return config;
}

/** The shortest decimal that rounds to the same f32 (GGUF stores eps and θ as f32: 1e-6, not 9.999999974752427e-7). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 17; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** End-of-generation ids: eos_token_id, eot_token_id, and the tokens llama.cpp treats as EOG by their text. */
export function ggufEndOfGenerationIds(meta: GgufMetadata): number[] {
  const ids = new Set<number>();
  for (const k of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id']) if (meta.has(k)) ids.add(meta.number(k));
  if (meta.has('tokenizer.ggml.tokens')) {
    const tokens = meta.strings('tokenizer.ggml.tokens');
    for (const t of EOG_TEXTS) {
      const id = tokens.indexOf(t);
      if (id >= 0) ids.add(id);
    }
  }
  return [...ids];
}

/** Qwen3.5 hybrid keys: layer kinds, DeltaNet sizes, partial rotary and MRoPE sections. */
function hybridFields(meta: GgufMetadata, a: string, nLayers: number, headDim: number, ropeDim: number): Partial<ModelConfig> {
  const file = meta.path;
  const u = (k: string) => {
    const v = meta.number(`${a}.${k}`);
    if (!Number.isSafeInteger(v) || v < 1) throw new ModelLoadError(`${file}: metadata '${a}.${k}' must be a positive integer, got ${v}`, file);
    return v;
  };
  const numKeyHeads = u('ssm.group_count');
  const numValueHeads = u('ssm.time_step_rank');
  const keyHeadDim = u('ssm.state_size');
  const inner = u('ssm.inner_size');
  if (inner % numValueHeads !== 0) throw new ModelLoadError(`${file}: ssm.inner_size ${inner} is not a multiple of ssm.time_step_rank ${numValueHeads}`, file);
  if (numValueHeads % numKeyHeads !== 0) throw new ModelLoadError(`${file}: ssm.time_step_rank ${numValueHeads} is not a multiple of ssm.group_count ${numKeyHeads}`, file);
  let layerKinds: LayerKind[];
  const rk = `${a}.attention.recurrent_layers`;
  if (meta.has(rk)) {
    const v = meta.get(rk);
    if (!Array.isArray(v) || v.length !== nLayers || !v.every((x) => typeof x === 'boolean')) throw new ModelLoadError(`${file}: metadata '${rk}' must list ${nLayers} bools`, file);
    layerKinds = (v as boolean[]).map((r) => (r ? 'linear' : 'attention'));
  } else {
    const every = meta.has(`${a}.full_attention_interval`) ? u('full_attention_interval') : 4;
    layerKinds = Array.from({ length: nLayers }, (_, i) => ((i + 1) % every === 0 ? 'attention' : 'linear'));
  }
  if (ropeDim % 2 !== 0 || ropeDim > headDim) throw new ModelLoadError(`${file}: rope.dimension_count ${ropeDim} must be even and ≤ key_length ${headDim}`, file);
  const sk = `${a}.rope.dimension_sections`;
  const sections = meta.has(sk) ? Array.from(meta.ints(sk)) : [11, 11, 10];
  while (sections.length > 3 && sections[sections.length - 1] === 0) sections.pop();
  const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = sections;
  const sectDims = s0 + s1 + s2 + s3;
  for (let j = 0; j < ropeDim / 2; j++) {
    const sector = j % Math.max(1, sectDims);
    if (sector >= 3 * [s0, s1, s2][sector % 3]!) throw new UnsupportedModelError(`${file}: rope.dimension_sections ${JSON.stringify(sections)} with ${ropeDim} rotated dims (pair ${j} uncovered) is not supported`, file);
  }
  return {
    layerKinds,
    linearAttention: { convKernel: u('ssm.conv_kernel'), numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim: inner / numValueHeads },
    ropeDim,
    mropeSection: sections,
    weightPrefix: 'model.',
    mtpLayers: 0,
  };
}
