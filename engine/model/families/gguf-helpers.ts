/**
 * Checked readers over one GGUF's `<arch>.*` metadata and the parts of a config every family reads alike (the
 * attention shape, routed experts), for the families' `ggufConfig`. Errors name the file and the key.
 */
import { ModelLoadError, UnsupportedModelError } from '../../errors.js';
import type { GgufMetadata } from '../gguf-reader.js';
import type { ModelConfig } from '../model-spec.js';

/** Readers over the metadata of one GGUF architecture `a` (keys are `${a}.${key}`). */
export interface GgufReader {
  readonly meta: GgufMetadata;
  readonly file: string;
  /** general.architecture. */
  readonly a: string;
  /** An integer ≥ min (default 1); `def` when absent, and a required key when `def` is undefined. */
  int(key: string, def?: number, min?: number): number;
  /** A positive number (as the shortest decimal of its f32); `def` when absent. */
  num(key: string, def?: number): number;
  has(key: string): boolean;
  unsupported(what: string): never;
}

/** What the shared part of a GGUF config read (the family gets it to check and extend). */
export interface GgufShape {
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** rope.dimension_count (default: headDim). */
  ropeDim: number;
}

/** The shortest decimal that rounds to the same f32 (GGUF stores eps and θ as f32: 1e-6, not 9.999999974752427e-7). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 17; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** Readers over `meta` for architecture `a`. */
export function ggufReader(meta: GgufMetadata, a: string): GgufReader {
  const file = meta.path;
  return {
    meta,
    file,
    a,
    has: (key) => meta.has(`${a}.${key}`),
    int(key, def, min = 1) {
      const k = `${a}.${key}`;
      if (!meta.has(k)) {
        if (def === undefined) throw new ModelLoadError(`${file}: metadata '${k}' is missing`, file);
        return def;
      }
      const v = meta.number(k);
      if (!Number.isSafeInteger(v) || v < min) throw new ModelLoadError(`${file}: metadata '${k}' must be an integer ≥ ${min}, got ${v}`, file);
      return v;
    },
    num(key, def) {
      const k = `${a}.${key}`;
      if (!meta.has(k) && def !== undefined) return def;
      const v = shortestF32(meta.number(k));
      if (!Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${file}: metadata '${k}' must be a positive number, got ${v}`, file);
      return v;
    },
    unsupported(what): never {
      throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
    },
  };
}

/** llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_{SOFTMAX, SIGMOID}. */
const GATING: Record<number, 'softmax' | 'sigmoid'> = { 1: 'softmax', 2: 'sigmoid' };

/**
 * Routed experts from `expert_*` keys: the gating function must be the family's; `expert_weights_norm` (default
 * true: llama.cpp renormalises these families' top-k) may be false only where `mayNotNormalise`.
 */
export function ggufMoe(r: GgufReader, o: { gating: 'softmax' | 'sigmoid'; interDefault?: number; mayNotNormalise: boolean }): NonNullable<ModelConfig['moe']> {
  const numExperts = r.int('expert_count');
  const numExpertsPerTok = r.int('expert_used_count');
  if (numExpertsPerTok > numExperts) throw new ModelLoadError(`${r.file}: expert_used_count ${numExpertsPerTok} > expert_count ${numExperts}`, r.file);
  const gatingId = r.int('expert_gating_func', o.gating === 'sigmoid' ? 2 : 1);
  const gating = GATING[gatingId] ?? r.unsupported(`expert_gating_func ${gatingId}`);
  if (gating !== o.gating) r.unsupported(`expert_gating_func ${gating} for ${r.a}`);
  const norm = r.has('expert_weights_norm') ? r.meta.bool(`${r.a}.expert_weights_norm`) : true;
  if (!norm && !o.mayNotNormalise) r.unsupported(`expert_weights_norm false for ${r.a}`);
  return {
    numExperts,
    numExpertsPerTok,
    normTopkProb: norm,
    moeIntermediateSize: r.int('expert_feed_forward_length', o.interDefault),
    decoderSparseStep: 1,
    mlpOnlyLayers: [],
  };
}

/** A Hugging Face layer tensor name `model.layers.i.REST` as GGUF's layer prefix `blk.i.` and REST; undefined outside layers. */
export function splitLayerName(hfName: string): { b: string; rest: string } | undefined {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  return m ? { b: `blk.${m[1]}.`, rest: m[2]! } : undefined;
}

const TOP: Record<string, string> = { 'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight' };
const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight',
};

/** The GGUF name of a tensor every family here names alike (embedding, final norm, head, attention, dense MLP, router). */
export function sharedGgufName(hfName: string): string | undefined {
  const top = TOP[hfName];
  if (top) return top;
  const l = splitLayerName(hfName);
  const g = l && LAYER[l.rest];
  return g && l.b + g;
}

/**
 * One expert of a stacked `ffn_{gate,up,down}_exps` tensor: `model.layers.i.GROUP.experts.E.PART.weight` where
 * `parts` maps PART to gate / up / down (e.g. gate_proj → gate, or MiniMax's w1 → gate).
 */
export function expertSlice(hfName: string, group: string, parts: Record<string, 'gate' | 'up' | 'down'>): { gguf: string; slice: number } | undefined {
  const l = splitLayerName(hfName);
  const m = l && new RegExp(`^${group}\\.experts\\.(\\d+)\\.(\\w+)\\.weight$`).exec(l.rest);
  const part = m && parts[m[2]!];
  return part ? { gguf: `${l!.b}ffn_${part}_exps.weight`, slice: Number(m![1]) } : undefined;
}
