/**
 * GGUF tensors and metadata of a Qwen3.5 / 3.6 hybrid (llama.cpp arch `qwen35` / `qwen35moe`), as
 * convert_hf_to_gguf.py (run with --no-mtp) writes them:
 *  - zero-centred norms (layer norms, q/k norms, the final norm) are stored as 1 + w; DeltaNet's gated norm as is;
 *  - A_log → ssm_a = −exp(A_log); dt_bias → ssm_dt.bias; conv1d [C, 1, K] → ssm_conv1d ne [K, C];
 *  - DeltaNet value heads go from grouped order (v-head g·r + j of k-head g) to tiled order (j·nk + g), so that
 *    ggml's broadcast of the k heads matches: in_proj_qkv's V rows, in_proj_z rows, in_proj_a / in_proj_b rows,
 *    A_log, dt_bias, conv1d's V channels and out_proj's columns;
 *  - MoE: gate_up_proj [E, 2I, H] splits into ffn_gate_exps / ffn_up_exps ne [H, I, E]; the router and the
 *    shared-expert gate are F32, as are every 1-D tensor and the conv kernel.
 * The vision tower and the MTP head are not written.
 */
import type { ModelConfig, ModelSpec, TensorRef, WeightDType } from '../model/model-spec.js';
import { layerKind, weightPrefix } from '../model/families/qwen35-tensors.js';
import { ggufTensor, type GgufDType, type GgufTensor, type GgufValue } from './gguf-writer.js';

/** Permutation p of v-head rows: new index j takes old index p[j] (grouped → tiled, `hd` values per head). */
export function tiledVHeadOrder(nk: number, nv: number, hd: number): Int32Array {
  const per = nv / nk;
  const p = new Int32Array(nv * hd);
  for (let r = 0; r < per; r++) {
    for (let g = 0; g < nk; g++) {
      for (let d = 0; d < hd; d++) p[(r * nk + g) * hd + d] = (g * per + r) * hd + d;
    }
  }
  return p;
}

/** Rows [from, from + p.length) of a row-major [rows][cols] matrix, permuted by p. */
function permuteRows(x: Float32Array, cols: number, from: number, p: Int32Array): Float32Array {
  const out = x.slice();
  for (let j = 0; j < p.length; j++) out.set(x.subarray((from + p[j]!) * cols, (from + p[j]! + 1) * cols), (from + j) * cols);
  return out;
}

/** Columns of a row-major [rows][p.length] matrix, permuted by p. */
function permuteCols(x: Float32Array, p: Int32Array): Float32Array {
  const cols = p.length;
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + p[j]!]!;
  return out;
}

const plusOne = (x: Float32Array) => x.map((v) => v + 1);

/** The GGUF tensors of a hybrid spec, in llama.cpp names. */
export function hybridGgufTensors(spec: ModelSpec, matrixDtype: GgufDType): GgufTensor[] {
  const c = spec.config;
  const byName = new Map(spec.tensors.map((t) => [t.name, t]));
  const get = (n: string) => byName.get(n)!;
  const out: GgufTensor[] = [];
  const ne = (ref: TensorRef) => [...ref.shape].reverse();
  const mat = (name: string, hf: string, transform?: (x: Float32Array) => Float32Array) =>
    out.push(ggufTensor(name, ne(get(hf)), matrixDtype, spec.dtype, [get(hf)], transform));
  const f32 = (name: string, hf: string, transform?: (x: Float32Array) => Float32Array, shape?: number[]) =>
    out.push(ggufTensor(name, shape ?? ne(get(hf)), 'f32', spec.dtype, [get(hf)], transform));
  const pre = weightPrefix(c);

  mat('token_embd.weight', `${pre}embed_tokens.weight`);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `${pre}layers.${i}.`;
    const b = `blk.${i}.`;
    f32(`${b}attn_norm.weight`, `${p}input_layernorm.weight`, plusOne);
    f32(`${b}post_attention_norm.weight`, `${p}post_attention_layernorm.weight`, plusOne);
    if (layerKind(c, i) === 'attention') {
      mat(`${b}attn_q.weight`, `${p}self_attn.q_proj.weight`);
      mat(`${b}attn_k.weight`, `${p}self_attn.k_proj.weight`);
      mat(`${b}attn_v.weight`, `${p}self_attn.v_proj.weight`);
      mat(`${b}attn_output.weight`, `${p}self_attn.o_proj.weight`);
      f32(`${b}attn_q_norm.weight`, `${p}self_attn.q_norm.weight`, plusOne);
      f32(`${b}attn_k_norm.weight`, `${p}self_attn.k_norm.weight`, plusOne);
    } else {
      linearTensors(c, `${p}linear_attn.`, b, { mat, f32, get });
    }
    if (c.moe) moeTensors(c, p, b, spec.dtype, matrixDtype, out, { mat, f32, get });
    else {
      mat(`${b}ffn_gate.weight`, `${p}mlp.gate_proj.weight`);
      mat(`${b}ffn_up.weight`, `${p}mlp.up_proj.weight`);
      mat(`${b}ffn_down.weight`, `${p}mlp.down_proj.weight`);
    }
  }
  f32('output_norm.weight', `${pre}norm.weight`, plusOne);
  if (!c.tieWordEmbeddings) mat('output.weight', 'lm_head.weight');
  return out;
}

type Transform = (x: Float32Array) => Float32Array;
interface Adders {
  mat: (name: string, hf: string, transform?: Transform) => void;
  f32: (name: string, hf: string, transform?: Transform, shape?: number[]) => void;
  get: (hf: string) => TensorRef;
}

/** Gated DeltaNet tensors of one layer (`a`: the HF `…linear_attn.` prefix, `b`: `blk.i.`). */
function linearTensors(c: ModelConfig, a: string, b: string, { mat, f32 }: Adders): void {
  const { numKeyHeads: nk, numValueHeads: nv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K } = c.linearAttention!;
  const H = c.hiddenSize;
  const grouped = nv !== nk; // equal counts: the two orders coincide (convert skips the reorder)
  const pv = tiledVHeadOrder(nk, nv, dv);
  const p1 = tiledVHeadOrder(nk, nv, 1);
  const rows = (cols: number, from: number, p: Int32Array): Transform | undefined => (grouped ? (x) => permuteRows(x, cols, from, p) : undefined);
  const convDim = 2 * nk * dk + nv * dv;
  mat(`${b}attn_qkv.weight`, `${a}in_proj_qkv.weight`, rows(H, 2 * nk * dk, pv));
  mat(`${b}attn_gate.weight`, `${a}in_proj_z.weight`, rows(H, 0, pv));
  mat(`${b}ssm_beta.weight`, `${a}in_proj_b.weight`, rows(H, 0, p1));
  mat(`${b}ssm_alpha.weight`, `${a}in_proj_a.weight`, rows(H, 0, p1));
  f32(`${b}ssm_conv1d.weight`, `${a}conv1d.weight`, rows(K, 2 * nk * dk, pv), [K, convDim]);
  f32(`${b}ssm_dt.bias`, `${a}dt_bias`, rows(1, 0, p1));
  const reorderA = rows(1, 0, p1);
  f32(`${b}ssm_a`, `${a}A_log`, (x) => (reorderA ? reorderA(x) : x).map((v) => -Math.exp(v)));
  f32(`${b}ssm_norm.weight`, `${a}norm.weight`);
  mat(`${b}ssm_out.weight`, `${a}out_proj.weight`, grouped ? (x) => permuteCols(x, pv) : undefined);
}

/** Routed experts (gate_up split per expert), router, shared expert and its gate, for layer prefix `p`. */
function moeTensors(c: ModelConfig, p: string, b: string, srcDtype: WeightDType, matrixDtype: GgufDType, out: GgufTensor[], { mat, f32, get }: Adders): void {
  const { numExperts: E, moeIntermediateSize: I } = c.moe!;
  const H = c.hiddenSize;
  f32(`${b}ffn_gate_inp.weight`, `${p}mlp.gate.weight`);
  const gu = get(`${p}mlp.experts.gate_up_proj`);
  const es = gu.nbytes / (E * 2 * I * H); // bytes per value
  const half = (k: 0 | 1): TensorRef[] =>
    Array.from({ length: E }, (_, e) => ({ ...gu, offset: gu.offset + (e * 2 + k) * I * H * es, nbytes: I * H * es, shape: [I, H] }));
  out.push(ggufTensor(`${b}ffn_gate_exps.weight`, [H, I, E], matrixDtype, srcDtype, half(0)));
  out.push(ggufTensor(`${b}ffn_up_exps.weight`, [H, I, E], matrixDtype, srcDtype, half(1)));
  mat(`${b}ffn_down_exps.weight`, `${p}mlp.experts.down_proj`);
  f32(`${b}ffn_gate_inp_shexp.weight`, `${p}mlp.shared_expert_gate.weight`);
  mat(`${b}ffn_gate_shexp.weight`, `${p}mlp.shared_expert.gate_proj.weight`);
  mat(`${b}ffn_up_shexp.weight`, `${p}mlp.shared_expert.up_proj.weight`);
  mat(`${b}ffn_down_shexp.weight`, `${p}mlp.shared_expert.down_proj.weight`);
}

/** Architecture metadata of a hybrid (`a` = general.architecture), beyond the keys every arch gets. */
export function hybridMetadata(c: ModelConfig, a: string): [string, GgufValue][] {
  const la = c.linearAttention!;
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const kinds = c.layerKinds!;
  const firstAttn = kinds.indexOf('attention') + 1;
  const periodic = firstAttn > 0 && kinds.every((k, i) => (k === 'attention') === ((i + 1) % firstAttn === 0));
  const sections = [...c.mropeSection!, 0, 0, 0, 0].slice(0, 4);
  const kv: [string, GgufValue][] = [
    [`${a}.rope.dimension_count`, u32(c.ropeDim!)],
    [`${a}.rope.dimension_sections`, { type: 'i32s', value: sections }],
    [`${a}.ssm.conv_kernel`, u32(la.convKernel)],
    [`${a}.ssm.state_size`, u32(la.keyHeadDim)],
    [`${a}.ssm.group_count`, u32(la.numKeyHeads)],
    [`${a}.ssm.time_step_rank`, u32(la.numValueHeads)],
    [`${a}.ssm.inner_size`, u32(la.valueHeadDim * la.numValueHeads)],
    [`${a}.attention.recurrent_layers`, { type: 'bools', value: kinds.map((k) => k === 'linear') }],
    [`${a}.full_attention_interval`, u32(periodic ? firstAttn : 4)],
  ];
  if (c.moe) {
    kv.push([`${a}.expert_shared_feed_forward_length`, u32(c.moe.sharedExpertIntermediateSize!)]);
  }
  return kv;
}
