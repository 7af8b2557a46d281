/**
 * Qwen3 dense (`Qwen3ForCausalLM`, arch 'qwen3') and Qwen3-MoE (`Qwen3MoeForCausalLM`, 'qwen3moe'): one forward
 * (engine/native/models/qwen3.cpp). Tensors (Hugging Face names, row-major):
 *   model.embed_tokens.weight [V, H]; per layer i, p = model.layers.i.:
 *   p.input_layernorm / p.post_attention_layernorm [H]; p.self_attn.{q,k,v,o}_proj; q_norm / k_norm [D] (per head)
 *   dense: p.mlp.{gate,up}_proj [I, H], down_proj [H, I]; MoE layers: p.mlp.gate [E, H], p.mlp.experts.e.* [Ie, H] / [H, Ie]
 *   model.norm.weight [H]; lm_head.weight [V, H] unless tied.
 */
import { UnsupportedModelError } from '../../errors.js';
import type { ExpectedTensor, ModelConfig } from '../model-spec.js';
import { isMoeLayer, type ModelFamily } from './family.js';
import { expertSlice, ggufMoe, sharedGgufName, splitLayerName } from './gguf-helpers.js';
import { checkFullAttention, expertCounts, hfBaseConfig, hfShape, mlpOnlyLayers, type SharedDefaults } from './hf-config.js';

/** Qwen3Config / Qwen3MoeConfig defaults. */
const DEFAULTS: Record<'qwen3' | 'qwen3moe', SharedDefaults & { intermediate: number }> = {
  qwen3: { vocab: 151936, hidden: 4096, layers: 32, heads: 32, intermediate: 22016 },
  qwen3moe: { vocab: 151936, hidden: 2048, layers: 24, heads: 32, kvHeads: 4, intermediate: 6144 },
};

/** Every tensor of a Qwen3 / Qwen3-MoE checkpoint, in canonical order (embedding, layers, norm, head). */
function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const { vocabSize: V, hiddenSize: H, nHeads, nKvHeads, headDim: D, intermediateSize: I } = config;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [V, H], kind: 'matrix' }];
  const mat = (name: string, shape: number[]) => out.push({ name, shape, kind: 'matrix' });
  const norm = (name: string, n: number) => out.push({ name, shape: [n], kind: 'norm' });
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}.`;
    norm(`${p}input_layernorm.weight`, H);
    mat(`${p}self_attn.q_proj.weight`, [nHeads * D, H]);
    mat(`${p}self_attn.k_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.v_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.o_proj.weight`, [H, nHeads * D]);
    norm(`${p}self_attn.q_norm.weight`, D);
    norm(`${p}self_attn.k_norm.weight`, D);
    norm(`${p}post_attention_layernorm.weight`, H);
    if (isMoeLayer(config, i)) {
      const m = config.moe!;
      mat(`${p}mlp.gate.weight`, [m.numExperts, H]);
      for (let e = 0; e < m.numExperts; e++) {
        mat(`${p}mlp.experts.${e}.gate_proj.weight`, [m.moeIntermediateSize, H]);
        mat(`${p}mlp.experts.${e}.up_proj.weight`, [m.moeIntermediateSize, H]);
        mat(`${p}mlp.experts.${e}.down_proj.weight`, [H, m.moeIntermediateSize]);
      }
    } else {
      mat(`${p}mlp.gate_proj.weight`, [I, H]);
      mat(`${p}mlp.up_proj.weight`, [I, H]);
      mat(`${p}mlp.down_proj.weight`, [H, I]);
    }
  }
  norm('model.norm.weight', H);
  if (!config.tieWordEmbeddings) mat('lm_head.weight', [V, H]);
  return out;
}

const EXPERT_PARTS = { gate_proj: 'gate', up_proj: 'up', down_proj: 'down' } as const;

export const qwen3Family: ModelFamily = {
  name: 'Qwen3',
  archs: ['qwen3', 'qwen3moe'],
  hfArchitectures: ['Qwen3ForCausalLM', 'Qwen3MoeForCausalLM'],
  ggufArchitectures: ['qwen3', 'qwen3moe'],

  parseHfConfig(r, hfArchitecture, gen) {
    const arch = hfArchitecture === 'Qwen3MoeForCausalLM' ? 'qwen3moe' : 'qwen3';
    const d = DEFAULTS[arch];
    const shape = hfShape(r, d);
    checkFullAttention(r);
    const config = hfBaseConfig(r, arch, gen, shape, d, { intermediateSize: r.int('intermediate_size', d.intermediate), ropeTheta: r.num('rope_theta', 10000) });
    if (arch === 'qwen3moe') {
      config.moe = {
        ...expertCounts(r, 'num_experts', 128),
        normTopkProb: r.raw.norm_topk_prob === true,
        moeIntermediateSize: r.int('moe_intermediate_size', 768),
        decoderSparseStep: r.int('decoder_sparse_step', 1),
        mlpOnlyLayers: mlpOnlyLayers(r),
      };
    }
    return config;
  },

  expectedTensors,

  ggufConfig(r, s) {
    if (s.ropeDim !== s.headDim) r.unsupported(`rope.dimension_count ${s.ropeDim} ≠ key_length ${s.headDim} for ${r.a}`);
    const intermediateSize = r.int('feed_forward_length');
    if (r.a !== 'qwen3moe') return { intermediateSize };
    return { intermediateSize, moe: ggufMoe(r, { gating: 'softmax', mayNotNormalise: true }) };
  },

  ggufSource(_c, name) {
    const slice = expertSlice(name, 'mlp', EXPERT_PARTS);
    if (slice) return slice;
    const l = splitLayerName(name);
    if (l?.rest === 'post_attention_layernorm.weight') return { gguf: `${l.b}ffn_norm.weight` };
    const gguf = sharedGgufName(name);
    return gguf ? { gguf } : undefined;
  },

  nativeParams(c, where) {
    if (c.arch === 'qwen3moe' && !c.moe) throw new UnsupportedModelError(`${where}: a ${c.arch} config without MoE parameters`);
    return { arch: c.arch, inter: c.intermediateSize };
  },
};
