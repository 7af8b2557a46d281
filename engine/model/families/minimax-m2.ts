/**
 * MiniMax-M2 / M2.5 checkpoints (`MiniMaxM2ForCausalLM`): config.json keys and tensors (Hugging Face names, row-major).
 *   model.embed_tokens.weight [V, H]; per layer i, p = model.layers.i.:
 *   p.input_layernorm.weight [H], p.post_attention_layernorm.weight [H]
 *   p.self_attn.q_proj [nH·D, H], k_proj / v_proj [nKv·D, H], o_proj [H, nH·D],
 *   p.self_attn.q_norm [nH·D], k_norm [nKv·D]  (one RMSNorm over all heads together)
 *   p.block_sparse_moe.gate.weight [E, H], p.block_sparse_moe.e_score_correction_bias [E],
 *   p.block_sparse_moe.experts.e.w1 (gate) / w3 (up) [I, H], w2 (down) [H, I]
 *   model.norm.weight [H]; lm_head.weight [V, H] (untied).
 * Every layer attends (GQA, partial rotary: `rotary_dim` of `head_dim`) and is MoE (sigmoid scores, the bias used
 * only for choosing, top-k weights renormalised, no shared expert). MTP modules (`model.mtp.*` / `mtp.*`) are not run.
 */
import { ModelLoadError, UnsupportedModelError } from '../../errors.js';
import type { ExpectedTensor, ModelConfig } from '../model-spec.js';
import type { ModelFamily } from './family.js';
import { expertSlice, ggufMoe, sharedGgufName, splitLayerName } from './gguf-helpers.js';
import { checkFullAttention, expertCounts, hfBaseConfig, hfShape } from './hf-config.js';
import { isIgnoredHybridTensor } from './qwen35-tensors.js';

type Raw = Record<string, unknown>;
type IntReader = (key: string, def: number, min?: number) => number;

/** MiniMaxM2Config's defaults for the keys shared with Qwen3 (the released 230B-A10B shapes). */
const MINIMAX_DEFAULTS = { vocab: 200064, hidden: 3072, layers: 62, heads: 48, kvHeads: 8, headDim: 128, intermediate: 1536 };

/** MiniMax-only keys of config.json: partial rotary, routing, and the options the forward does not implement. */
function parseMinimaxConfig(raw: Raw, file: string, headDim: number, int: IntReader, counts: () => { numExperts: number; numExpertsPerTok: number }): Pick<ModelConfig, 'ropeDim' | 'moe'> {
  const unsupported = (what: string): never => {
    throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
  };
  const rotary = raw.rotary_dim ?? (typeof raw.partial_rotary_factor === 'number' ? Math.floor(headDim * raw.partial_rotary_factor) : 64);
  if (!Number.isSafeInteger(rotary) || (rotary as number) < 2 || (rotary as number) % 2 !== 0 || (rotary as number) > headDim)
    throw new ModelLoadError(`${file}: rotary_dim must be an even integer in [2, head_dim ${headDim}], got ${JSON.stringify(rotary)}`, file);
  if (raw.use_qk_norm === false) unsupported('use_qk_norm: false');
  if (raw.qk_norm_type != null && raw.qk_norm_type !== 'per_layer') unsupported(`qk_norm_type '${String(raw.qk_norm_type)}'`);
  const scoring = raw.scoring_func ?? 'sigmoid';
  if (scoring !== 'sigmoid') unsupported(`scoring_func '${String(scoring)}'`);
  if (raw.use_routing_bias === false) unsupported('use_routing_bias: false');
  if (raw.use_grouped_topk === true) unsupported('use_grouped_topk: true');
  const scale = raw.routed_scaling_factor ?? 1;
  if (scale !== 1) unsupported(`routed_scaling_factor ${JSON.stringify(scale)}`);
  if (Number(raw.shared_intermediate_size ?? 0) > 0) unsupported('a shared expert (shared_intermediate_size > 0)');
  const window = raw.attn_window_size ?? raw.sliding_window;
  if (window != null && !(Array.isArray(window) ? window.every((w) => w == null || Number(w) <= 0) : Number(window) <= 0)) unsupported('sliding-window attention');
  if (Array.isArray(raw.attn_type_list) && raw.attn_type_list.some((t) => t !== 1)) unsupported('attn_type_list entries other than 1 (full attention)');
  const q = raw.quantization_config as Raw | undefined;
  if (q != null) unsupported(`quantized weights (quantization_config ${JSON.stringify(q.quant_method ?? q.quant_type ?? 'present')}); convert them to BF16 first`);
  const experts = counts();
  return {
    ropeDim: rotary as number,
    moe: {
      ...experts,
      normTopkProb: true,
      moeIntermediateSize: int('intermediate_size', MINIMAX_DEFAULTS.intermediate),
      decoderSparseStep: 1,
      mlpOnlyLayers: [],
      gating: 'sigmoid',
    },
  };
}

/** Every tensor of a MiniMax-M2 checkpoint, in canonical order. */
function minimaxExpectedTensors(c: ModelConfig): ExpectedTensor[] {
  const { vocabSize: V, hiddenSize: H, nHeads, nKvHeads, headDim: D } = c;
  const { numExperts: E, moeIntermediateSize: I } = c.moe!;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [V, H], kind: 'matrix' }];
  const mat = (name: string, shape: number[]) => out.push({ name, shape, kind: 'matrix' });
  const vec = (name: string, n: number, kind: 'norm' | 'param' = 'norm') => out.push({ name, shape: [n], kind });
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    const m = `${p}block_sparse_moe.`;
    vec(`${p}input_layernorm.weight`, H);
    mat(`${p}self_attn.q_proj.weight`, [nHeads * D, H]);
    mat(`${p}self_attn.k_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.v_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.o_proj.weight`, [H, nHeads * D]);
    vec(`${p}self_attn.q_norm.weight`, nHeads * D);
    vec(`${p}self_attn.k_norm.weight`, nKvHeads * D);
    vec(`${p}post_attention_layernorm.weight`, H);
    mat(`${m}gate.weight`, [E, H]);
    vec(`${m}e_score_correction_bias`, E, 'param');
    for (let e = 0; e < E; e++) {
      mat(`${m}experts.${e}.w1.weight`, [I, H]);
      mat(`${m}experts.${e}.w2.weight`, [H, I]);
      mat(`${m}experts.${e}.w3.weight`, [I, H]);
    }
  }
  vec('model.norm.weight', H);
  mat('lm_head.weight', [V, H]);
  return out;
}

const EXPERT_PARTS = { w1: 'gate', w3: 'up', w2: 'down' } as const;

export const minimaxFamily: ModelFamily = {
  name: 'MiniMax-M2',
  archs: ['minimax-m2'],
  hfArchitectures: ['MiniMaxM2ForCausalLM'],
  ggufArchitectures: ['minimax-m2'],

  parseHfConfig(r, _hf, gen) {
    const d = MINIMAX_DEFAULTS;
    const shape = hfShape(r, d);
    checkFullAttention(r);
    const config = hfBaseConfig(r, 'minimax-m2', gen, shape, d, { intermediateSize: 0, ropeTheta: r.num('rope_theta', 5_000_000) });
    return Object.assign(config, parseMinimaxConfig(r.raw, r.file, shape.headDim, r.int, () => expertCounts(r, 'num_local_experts', 256)));
  },

  expectedTensors: minimaxExpectedTensors,
  ignoredTensor: isIgnoredHybridTensor,

  ggufConfig(r, s) {
    const moe = ggufMoe(r, { gating: 'sigmoid', interDefault: r.int('feed_forward_length'), mayNotNormalise: false });
    return { intermediateSize: 0, ropeDim: s.ropeDim, moe: { ...moe, gating: 'sigmoid' } };
  },

  ggufSource(_c, name) {
    const slice = expertSlice(name, 'block_sparse_moe', EXPERT_PARTS);
    if (slice) return slice;
    const l = splitLayerName(name);
    const own = l && ({
      'post_attention_layernorm.weight': 'ffn_norm.weight',
      'block_sparse_moe.gate.weight': 'ffn_gate_inp.weight',
      'block_sparse_moe.e_score_correction_bias': 'exp_probs_b.bias',
    } as Record<string, string>)[l.rest];
    const gguf = own ? l.b + own : sharedGgufName(name);
    return gguf ? { gguf } : undefined;
  },

  nativeParams(c, where) {
    if (!c.moe) throw new UnsupportedModelError(`${where}: a ${c.arch} config without MoE parameters`);
    // no dense MLP: the experts' width sizes the unused buffers
    return { arch: c.arch, inter: c.moe.moeIntermediateSize, ropeDim: c.ropeDim ?? c.headDim };
  },
};
