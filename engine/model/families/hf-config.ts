/**
 * The config.json keys every family shares (Qwen3Config's names: hidden_size, num_attention_heads, …), read with
 * each family's defaults and checked, for the families' `parseHfConfig`. Errors name the file and the key.
 */
import { ModelLoadError, UnsupportedModelError } from '../../errors.js';
import type { ModelConfig } from '../model-spec.js';

export type Raw = Record<string, unknown>;

/** Checked readers over one config.json (`raw`, after any family merge such as `text_config`). */
export interface ConfigReader {
  readonly file: string;
  readonly raw: Raw;
  /** An integer ≥ min (default 1), `def` when absent. */
  int(key: string, def: number, min?: number): number;
  /** A positive finite number, `def` when absent. */
  num(key: string, def: number): number;
  /** Throws UnsupportedModelError `<file>: <what> is not supported`. */
  unsupported(what: string): never;
  /** The same readers over another object (a family's merged view of the file). */
  over(raw: Raw): ConfigReader;
}

/** Readers over `raw`, naming `file` in errors. */
export function configReader(raw: Raw, file: string): ConfigReader {
  return {
    file,
    raw,
    int(key, def, min = 1) {
      const v = raw[key] ?? def;
      if (!Number.isSafeInteger(v) || (v as number) < min) throw new ModelLoadError(`${file}: ${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`, file);
      return v as number;
    },
    num(key, def) {
      const v = raw[key] ?? def;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${file}: ${key} must be a positive number, got ${JSON.stringify(v)}`, file);
      return v;
    },
    unsupported(what): never {
      throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
    },
    over: (other) => configReader(other, file),
  };
}

/** A family's defaults for the shared keys (absent kvHeads: = heads; absent headDim: hidden / heads). */
export interface SharedDefaults {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads?: number;
  headDim?: number;
}

/** The attention shape and the options no family implements (act other than silu, attention bias, sliding window). */
export function hfShape(r: ConfigReader, d: SharedDefaults): Pick<ModelConfig, 'hiddenSize' | 'nHeads' | 'nKvHeads' | 'headDim'> {
  const { file, raw } = r;
  const hiddenSize = r.int('hidden_size', d.hidden);
  const nHeads = r.int('num_attention_heads', d.heads);
  const nKvHeads = r.int('num_key_value_heads', d.kvHeads ?? nHeads);
  const headDim = raw.head_dim == null ? (d.headDim ?? Math.floor(hiddenSize / nHeads)) : r.int('head_dim', 0);
  if (nHeads % nKvHeads !== 0) throw new ModelLoadError(`${file}: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`, file);
  if (headDim % 2 !== 0 || headDim <= 0) throw new ModelLoadError(`${file}: head_dim ${headDim} must be even and positive`, file);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') r.unsupported(`hidden_act '${String(act)}'`);
  if (raw.attention_bias === true) r.unsupported('attention_bias: true');
  if (raw.use_sliding_window === true) r.unsupported('use_sliding_window: true');
  return { hiddenSize, nHeads, nKvHeads, headDim };
}

/** Families whose every layer is full attention with plain RoPE: refuses other `layer_types` and any RoPE scaling. */
export function checkFullAttention(r: ConfigReader): void {
  const raw = r.raw;
  if (Array.isArray(raw.layer_types) && raw.layer_types.some((t) => t !== 'full_attention')) r.unsupported(`layer_types other than full_attention`);
  const rs = raw.rope_scaling as Raw | null | undefined;
  if (rs != null) {
    const type = rs.rope_type ?? rs.type;
    if (type !== 'default') r.unsupported(`rope_scaling type '${String(type)}'`);
  }
}

function idList(v: unknown): number[] {
  if (Number.isInteger(v)) return [v as number];
  if (Array.isArray(v)) return v.filter((x) => Number.isInteger(x)) as number[];
  return [];
}

/** The shared fields of a ModelConfig (in this key order: the fingerprint hashes the JSON): the shape, vocabulary, norms, context, tying and special ids (generation_config first). */
export function hfBaseConfig(
  r: ConfigReader,
  arch: string,
  gen: Raw | undefined,
  shape: Pick<ModelConfig, 'hiddenSize' | 'nHeads' | 'nKvHeads' | 'headDim'>,
  d: SharedDefaults,
  own: { intermediateSize: number; ropeTheta: number },
): ModelConfig {
  const raw = r.raw;
  const eos = [...idList(gen?.eos_token_id), ...idList(raw.eos_token_id)];
  const bos = idList(gen?.bos_token_id ?? raw.bos_token_id)[0];
  const config: ModelConfig = {
    arch,
    vocabSize: r.int('vocab_size', d.vocab),
    hiddenSize: shape.hiddenSize,
    nLayers: r.int('num_hidden_layers', d.layers),
    nHeads: shape.nHeads,
    nKvHeads: shape.nKvHeads,
    headDim: shape.headDim,
    intermediateSize: own.intermediateSize,
    rmsNormEps: r.num('rms_norm_eps', 1e-6),
    ropeTheta: own.ropeTheta,
    maxPositionEmbeddings: r.int('max_position_embeddings', 32768),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    eosTokenIds: [...new Set(eos)],
  };
  if (bos !== undefined) config.bosTokenId = bos;
  return config;
}

/** Routed expert counts under `expertsKey` and `num_experts_per_tok` (at most the experts). */
export function expertCounts(r: ConfigReader, expertsKey: string, def: number): { numExperts: number; numExpertsPerTok: number } {
  const numExperts = r.int(expertsKey, def);
  const numExpertsPerTok = r.int('num_experts_per_tok', 8);
  if (numExpertsPerTok > numExperts) throw new ModelLoadError(`${r.file}: num_experts_per_tok ${numExpertsPerTok} > ${expertsKey} ${numExperts}`, r.file);
  return { numExperts, numExpertsPerTok };
}

/** `mlp_only_layers` (default none), checked to be a list of integers. */
export function mlpOnlyLayers(r: ConfigReader): number[] {
  const v = r.raw.mlp_only_layers ?? [];
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new ModelLoadError(`${r.file}: mlp_only_layers must be a list of integers`, r.file);
  return v as number[];
}
