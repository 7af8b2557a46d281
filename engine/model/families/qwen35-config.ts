/**
 * The Qwen3.5 / Qwen3.6 parts of config.json (Qwen3_5TextConfig / Qwen3_5MoeTextConfig and their defaults):
 * layer kinds (`layer_types`, else `full_attention_interval`), Gated DeltaNet sizes (`linear_*`), partial
 * rotary and multimodal RoPE sections (`rope_parameters`, or legacy top-level keys), the shared expert.
 * Text settings may sit under `text_config`; they override the top-level keys (as convert_hf_to_gguf.py merges them).
 */
import { ModelLoadError, UnsupportedModelError } from '../../errors.js';
import type { LayerKind, LinearAttentionConfig, ModelConfig } from '../model-spec.js';

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The architectures strings of hybrid checkpoints → arch, and the text-weight prefix each uses. */
export const HYBRID_ARCHITECTURES: Record<string, { arch: 'qwen35' | 'qwen35moe'; prefix: string }> = {
  Qwen3_5ForConditionalGeneration: { arch: 'qwen35', prefix: 'model.language_model.' },
  Qwen3_5ForCausalLM: { arch: 'qwen35', prefix: 'model.' },
  Qwen3_5MoeForConditionalGeneration: { arch: 'qwen35moe', prefix: 'model.language_model.' },
  Qwen3_5MoeForCausalLM: { arch: 'qwen35moe', prefix: 'model.' },
};

/** config.json with `text_config` (if any) merged over the top level. */
export function mergeTextConfig(raw: Raw): Raw {
  return isObject(raw.text_config) ? { ...raw, ...raw.text_config } : raw;
}

/** Qwen3_5TextConfig / Qwen3_5MoeTextConfig defaults for the keys shared with Qwen3. */
export function hybridDefaults(arch: 'qwen35' | 'qwen35moe') {
  return arch === 'qwen35'
    ? { vocab: 248320, hidden: 4096, layers: 32, heads: 16, kvHeads: 4, headDim: 256, intermediate: 12288 }
    : { vocab: 248320, hidden: 2048, layers: 40, heads: 16, kvHeads: 2, headDim: 256, intermediate: 0 };
}

/** Integer reader of the caller (checks the value, names the key). */
type IntReader = (key: string, def: number, min?: number) => number;

/** Layer kinds from `layer_types` (which must name every layer) or from `full_attention_interval` (default 4: layers 3, 7, … attend). */
export function parseLayerKinds(raw: Raw, nLayers: number, file: string, int: IntReader): LayerKind[] {
  const types = raw.layer_types;
  if (types == null) {
    const every = int('full_attention_interval', 4);
    return Array.from({ length: nLayers }, (_, i) => ((i + 1) % every === 0 ? 'attention' : 'linear'));
  }
  if (!Array.isArray(types) || types.length !== nLayers) {
    throw new ModelLoadError(`${file}: layer_types must list num_hidden_layers (${nLayers}) entries, got ${JSON.stringify(types)}`, file);
  }
  return types.map((t, i) => {
    if (t === 'linear_attention') return 'linear';
    if (t === 'full_attention') return 'attention';
    throw new UnsupportedModelError(`${file}: layer_types[${i}] is '${String(t)}'; supported: linear_attention, full_attention`, file);
  });
}

/**
 * The first rotated pair MRoPE `sections` leave without a position, or -1 when every pair is covered: llama.cpp's
 * interleaved MRoPE gives pair j (sector j mod Σsections) a t/h/w position only while sector < 3·section[sector mod 3],
 * else the 4th position, which is 0 for text.
 */
export function checkMropeCoverage(sections: readonly number[], ropeDim: number): number {
  const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = sections;
  const sectDims = s0 + s1 + s2 + s3;
  for (let j = 0; j < ropeDim / 2; j++) {
    const sector = j % Math.max(1, sectDims);
    if (sector >= 3 * [s0, s1, s2][sector % 3]!) return j;
  }
  return -1;
}

/** What parseHybridConfig adds to the Qwen3-shaped fields. */
export type HybridFields = Required<Pick<ModelConfig, 'layerKinds' | 'linearAttention' | 'ropeDim' | 'mropeSection' | 'mtpLayers'>> & {
  ropeTheta: number;
};

/**
 * Hybrid-only keys of a merged config. `headDim` and `nLayers` come from the caller's parse.
 * Throws UnsupportedModelError for options the hybrid forward does not implement (no output gate, RoPE scaling,
 * MRoPE sections that leave some rotated pairs at position 0 in llama.cpp).
 */
export function parseHybridConfig(raw: Raw, file: string, nLayers: number, headDim: number, int: IntReader): HybridFields {
  const unsupported = (what: string): never => {
    throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
  };
  const linearAttention: LinearAttentionConfig = {
    convKernel: int('linear_conv_kernel_dim', 4),
    numKeyHeads: int('linear_num_key_heads', 16),
    numValueHeads: int('linear_num_value_heads', 32),
    keyHeadDim: int('linear_key_head_dim', 128),
    valueHeadDim: int('linear_value_head_dim', 128),
  };
  if (linearAttention.numValueHeads % linearAttention.numKeyHeads !== 0) {
    throw new ModelLoadError(`${file}: linear_num_value_heads ${linearAttention.numValueHeads} is not a multiple of linear_num_key_heads ${linearAttention.numKeyHeads}`, file);
  }
  if (raw.attn_output_gate === false) unsupported('attn_output_gate: false');

  const rp = isObject(raw.rope_parameters) ? raw.rope_parameters : isObject(raw.rope_scaling) ? raw.rope_scaling : {};
  const type = rp.rope_type ?? rp.type ?? 'default';
  if (type !== 'default') unsupported(`rope type '${String(type)}'`);
  const theta = rp.rope_theta ?? raw.rope_theta ?? 10000;
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelLoadError(`${file}: rope_theta must be a positive number, got ${JSON.stringify(theta)}`, file);
  const factor = rp.partial_rotary_factor ?? raw.partial_rotary_factor ?? 0.25;
  if (typeof factor !== 'number' || !(factor > 0 && factor <= 1)) throw new ModelLoadError(`${file}: partial_rotary_factor must be in (0, 1], got ${JSON.stringify(factor)}`, file);
  const ropeDim = Math.floor(headDim * factor);
  if (ropeDim % 2 !== 0 || ropeDim < 2) throw new ModelLoadError(`${file}: head_dim ${headDim} × partial_rotary_factor ${factor} = ${ropeDim} rotated dims, must be even`, file);
  const sec = rp.mrope_section ?? [11, 11, 10];
  if (!Array.isArray(sec) || sec.length < 1 || sec.length > 4 || !sec.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new ModelLoadError(`${file}: mrope_section must be up to 4 non-negative integers, got ${JSON.stringify(sec)}`, file);
  }
  const mropeSection = sec as number[];
  const pair = checkMropeCoverage(mropeSection, ropeDim);
  if (pair >= 0) unsupported(`mrope_section ${JSON.stringify(sec)} with ${ropeDim} rotated dims (pair ${pair} uncovered)`);
  const mtp = raw.mtp_num_hidden_layers ?? 0;
  if (!Number.isSafeInteger(mtp) || (mtp as number) < 0) throw new ModelLoadError(`${file}: mtp_num_hidden_layers must be a non-negative integer`, file);
  return {
    layerKinds: parseLayerKinds(raw, nLayers, file, int),
    linearAttention,
    ropeDim,
    mropeSection,
    mtpLayers: mtp as number,
    ropeTheta: theta,
  };
}
