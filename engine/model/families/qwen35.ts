/**
 * The Qwen3.5 / Qwen3.6 hybrids, dense ('qwen35') and MoE ('qwen35moe'): Gated DeltaNet layers + gated full
 * attention (engine/native/models/qwen35.cpp). config.json keys in qwen35-config.ts, tensors in qwen35-tensors.ts;
 * here the family's registry entry, its GGUF metadata and tensor names, and its native parameters.
 */
import { ModelLoadError, UnsupportedModelError } from '../../errors.js';
import type { ExpectedTensor, LayerKind, ModelConfig } from '../model-spec.js';
import type { GgufSource, ModelFamily } from './family.js';
import { ggufMoe, sharedGgufName, splitLayerName, type GgufReader } from './gguf-helpers.js';
import { expertCounts, hfBaseConfig, hfShape, mlpOnlyLayers, type ConfigReader } from './hf-config.js';
import { checkMropeCoverage, HYBRID_ARCHITECTURES, hybridDefaults, mergeTextConfig, parseHybridConfig } from './qwen35-config.js';
import { hybridExpectedTensors, isIgnoredHybridTensor } from './qwen35-tensors.js';

/** Qwen3.5-MoE's experts: every layer sparse, top-k weights always renormalised, one shared expert. */
function parseMoe(r: ConfigReader): NonNullable<ModelConfig['moe']> {
  const counts = expertCounts(r, 'num_experts', 256);
  if (mlpOnlyLayers(r).length > 0 || (r.raw.decoder_sparse_step ?? 1) !== 1) throw new UnsupportedModelError(`${r.file}: dense layers in a Qwen3.5-MoE (mlp_only_layers / decoder_sparse_step) are not supported`, r.file);
  return {
    ...counts,
    normTopkProb: true,
    moeIntermediateSize: r.int('moe_intermediate_size', 512),
    decoderSparseStep: 1,
    mlpOnlyLayers: [],
    sharedExpertIntermediateSize: r.int('shared_expert_intermediate_size', 512),
  };
}

/** GGUF hybrid keys: layer kinds, DeltaNet sizes, partial rotary and MRoPE sections. */
function ggufHybridFields(r: GgufReader, nLayers: number, headDim: number, ropeDim: number): Partial<ModelConfig> {
  const { file, meta, a } = r;
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
    layerKinds = (v as boolean[]).map((x) => (x ? 'linear' : 'attention'));
  } else {
    const every = r.has('full_attention_interval') ? u('full_attention_interval') : 4;
    layerKinds = Array.from({ length: nLayers }, (_, i) => ((i + 1) % every === 0 ? 'attention' : 'linear'));
  }
  if (ropeDim % 2 !== 0 || ropeDim > headDim) throw new ModelLoadError(`${file}: rope.dimension_count ${ropeDim} must be even and ≤ key_length ${headDim}`, file);
  const sk = `${a}.rope.dimension_sections`;
  const sections = meta.has(sk) ? Array.from(meta.ints(sk)) : [11, 11, 10];
  while (sections.length > 3 && sections[sections.length - 1] === 0) sections.pop();
  const pair = checkMropeCoverage(sections, ropeDim);
  if (pair >= 0) throw new UnsupportedModelError(`${file}: rope.dimension_sections ${JSON.stringify(sections)} with ${ropeDim} rotated dims (pair ${pair} uncovered) is not supported`, file);
  return {
    layerKinds,
    linearAttention: { convKernel: u('ssm.conv_kernel'), numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim: inner / numValueHeads },
    ropeDim,
    mropeSection: sections,
    weightPrefix: 'model.',
    mtpLayers: 0,
  };
}

/** The hybrid-only tensor names (the converter's rewrites: zero-centred norms + 1, A = -exp(A_log), value heads regrouped). */
function layerSource(c: ModelConfig, b: string, rest: string): GgufSource | undefined {
  const la = c.linearAttention;
  const vFrom = la ? 2 * la.numKeyHeads * la.keyHeadDim : 0;
  const table: Record<string, GgufSource> = {
    'input_layernorm.weight': { gguf: `${b}attn_norm.weight`, fix: 'norm1' },
    'post_attention_layernorm.weight': { gguf: `${b}post_attention_norm.weight`, fix: 'norm1' },
    'self_attn.q_norm.weight': { gguf: `${b}attn_q_norm.weight`, fix: 'norm1' },
    'self_attn.k_norm.weight': { gguf: `${b}attn_k_norm.weight`, fix: 'norm1' },
    'mlp.experts.gate_proj': { gguf: `${b}ffn_gate_exps.weight` },
    'mlp.experts.up_proj': { gguf: `${b}ffn_up_exps.weight` },
    'mlp.experts.down_proj': { gguf: `${b}ffn_down_exps.weight` },
    'mlp.shared_expert.gate_proj.weight': { gguf: `${b}ffn_gate_shexp.weight` },
    'mlp.shared_expert.up_proj.weight': { gguf: `${b}ffn_up_shexp.weight` },
    'mlp.shared_expert.down_proj.weight': { gguf: `${b}ffn_down_shexp.weight` },
    'mlp.shared_expert_gate.weight': { gguf: `${b}ffn_gate_inp_shexp.weight` },
    'linear_attn.in_proj_qkv.weight': { gguf: `${b}attn_qkv.weight`, fix: 'rows', from: vFrom },
    'linear_attn.in_proj_z.weight': { gguf: `${b}attn_gate.weight`, fix: 'rows', from: 0 },
    'linear_attn.in_proj_b.weight': { gguf: `${b}ssm_beta.weight`, fix: 'rows1', from: 0 },
    'linear_attn.in_proj_a.weight': { gguf: `${b}ssm_alpha.weight`, fix: 'rows1', from: 0 },
    'linear_attn.conv1d.weight': { gguf: `${b}ssm_conv1d.weight`, fix: 'rows', from: vFrom },
    'linear_attn.dt_bias': { gguf: `${b}ssm_dt.bias`, fix: 'rows1', from: 0 },
    'linear_attn.A_log': { gguf: `${b}ssm_a`, fix: 'alog' },
    'linear_attn.norm.weight': { gguf: `${b}ssm_norm.weight` },
    'linear_attn.out_proj.weight': { gguf: `${b}ssm_out.weight`, fix: 'cols' },
  };
  return table[rest];
}

export const qwen35Family: ModelFamily = {
  name: 'Qwen3.5 / 3.6 hybrid',
  archs: ['qwen35', 'qwen35moe'],
  hfArchitectures: Object.keys(HYBRID_ARCHITECTURES),
  ggufArchitectures: ['qwen35', 'qwen35moe'],

  parseHfConfig(r0, hfArchitecture, gen) {
    const { arch, prefix } = HYBRID_ARCHITECTURES[hfArchitecture]!;
    const r = r0.over(mergeTextConfig(r0.raw));
    const d = hybridDefaults(arch);
    const shape = hfShape(r, d);
    const extra = parseHybridConfig(r.raw, r.file, r.int('num_hidden_layers', d.layers), shape.headDim, r.int);
    const config = hfBaseConfig(r, arch, gen, shape, d, { intermediateSize: arch === 'qwen35moe' ? 0 : r.int('intermediate_size', d.intermediate), ropeTheta: extra.ropeTheta });
    if (arch === 'qwen35moe') config.moe = parseMoe(r);
    const { ropeTheta: _, ...fields } = extra;
    return Object.assign(config, fields, { weightPrefix: prefix });
  },

  expectedTensors: hybridExpectedTensors,
  ignoredTensor: isIgnoredHybridTensor,

  ggufConfig(r, s) {
    const moe = r.a === 'qwen35moe';
    const out: Partial<ModelConfig> & { intermediateSize: number } = { intermediateSize: moe ? 0 : r.int('feed_forward_length') };
    if (moe) out.moe = { ...ggufMoe(r, { gating: 'softmax', mayNotNormalise: false }), sharedExpertIntermediateSize: r.int('expert_shared_feed_forward_length') };
    return Object.assign(out, ggufHybridFields(r, s.nLayers, s.headDim, s.ropeDim));
  },

  ggufSource(c, name) {
    if (name === 'model.norm.weight') return { gguf: 'output_norm.weight', fix: 'norm1' };
    const l = splitLayerName(name);
    const own = l && layerSource(c, l.b, l.rest);
    if (own) return own;
    const gguf = sharedGgufName(name);
    return gguf ? { gguf } : undefined;
  },

  /** GGUF keeps the MoE's fused gate_up_proj as separate gate / up stacks. */
  ggufBindingTensors(c) {
    return hybridExpectedTensors(c).flatMap((e): ExpectedTensor[] => {
      if (!e.name.endsWith('.mlp.experts.gate_up_proj')) return [e];
      const [E, twoI, H] = e.shape as [number, number, number];
      const base = e.name.slice(0, -'gate_up_proj'.length);
      return [
        { ...e, name: `${base}gate_proj`, shape: [E, twoI / 2, H] },
        { ...e, name: `${base}up_proj`, shape: [E, twoI / 2, H] },
      ];
    });
  },

  nativeParams(c, where) {
    if (c.arch === 'qwen35moe' && !c.moe) throw new UnsupportedModelError(`${where}: a ${c.arch} config without MoE parameters`);
    if (c.arch === 'qwen35moe' && !c.moe?.sharedExpertIntermediateSize) throw new UnsupportedModelError(`${where}: a qwen35moe config without a shared expert size`);
    const la = c.linearAttention;
    if (!la || !c.layerKinds) throw new UnsupportedModelError(`a ${c.arch} config without layer kinds or linear-attention sizes`);
    return {
      arch: c.arch,
      // Qwen3.5-MoE's shared expert is a SwiGLU MLP of its own width
      inter: c.arch === 'qwen35moe' ? c.moe!.sharedExpertIntermediateSize! : c.intermediateSize,
      weightPrefix: c.weightPrefix ?? 'model.',
      ropeDim: c.ropeDim ?? c.headDim,
      layerTypes: c.layerKinds.map((k) => (k === 'linear' ? 'linear_attention' : 'full_attention')),
      linearAttention: { convKernel: la.convKernel, nKeyHeads: la.numKeyHeads, nValueHeads: la.numValueHeads, keyHeadDim: la.keyHeadDim, valueHeadDim: la.valueHeadDim },
    };
  },
};
