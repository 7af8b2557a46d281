/**
 * GGUF tensors and metadata of a MiniMax-M2 model (llama.cpp arch `minimax-m2`), as convert_hf_to_gguf.py's
 * MiniMaxM2Model writes them: the experts' w1 / w3 / w2 stacked into ffn_gate_exps / ffn_up_exps / ffn_down_exps
 * (ne [H, I, E] / [I, H, E]), e_score_correction_bias → exp_probs_b.bias (F32), q/k norms over all heads
 * (ne [nH·D] / [nKv·D], F32); feed_forward_length = expert_feed_forward_length = the experts' width,
 * rope.dimension_count = rotary_dim, expert_gating_func = sigmoid (2).
 */
import type { ModelConfig, ModelSpec, TensorRef } from '../model/model-spec.js';
import { ggufTensor, type GgufDType, type GgufTensor, type GgufValue } from './gguf-writer.js';
import { isQuantDType } from './gguf-quant.js';

/** llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID. */
const GATING_SIGMOID = 2;

/** The GGUF tensors of a MiniMax-M2 spec, in llama.cpp names. */
export function minimaxGgufTensors(spec: ModelSpec, matrixDtype: GgufDType): GgufTensor[] {
  const c = spec.config;
  const byName = new Map(spec.tensors.map((t) => [t.name, t]));
  const get = (n: string) => byName.get(n)!;
  const out: GgufTensor[] = [];
  const ne = (ref: TensorRef) => [...ref.shape].reverse();
  const mat = (name: string, hf: string) => out.push(ggufTensor(name, ne(get(hf)), matrixDtype, spec.dtype, [get(hf)]));
  const f32 = (name: string, hf: string) => out.push(ggufTensor(name, ne(get(hf)), 'f32', spec.dtype, [get(hf)]));
  const E = c.moe!.numExperts;
  mat('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    const m = `${p}block_sparse_moe.`;
    const b = `blk.${i}.`;
    f32(`${b}attn_norm.weight`, `${p}input_layernorm.weight`);
    mat(`${b}attn_q.weight`, `${p}self_attn.q_proj.weight`);
    mat(`${b}attn_k.weight`, `${p}self_attn.k_proj.weight`);
    mat(`${b}attn_v.weight`, `${p}self_attn.v_proj.weight`);
    mat(`${b}attn_output.weight`, `${p}self_attn.o_proj.weight`);
    f32(`${b}attn_q_norm.weight`, `${p}self_attn.q_norm.weight`);
    f32(`${b}attn_k_norm.weight`, `${p}self_attn.k_norm.weight`);
    f32(`${b}ffn_norm.weight`, `${p}post_attention_layernorm.weight`);
    const router = get(`${m}gate.weight`);
    out.push(ggufTensor(`${b}ffn_gate_inp.weight`, ne(router), isQuantDType(matrixDtype) ? spec.dtype : matrixDtype, spec.dtype, [router])); // never quantized
    f32(`${b}exp_probs_b.bias`, `${m}e_score_correction_bias`);
    for (const [g, w] of [['gate', 'w1'], ['up', 'w3'], ['down', 'w2']] as const) {
      const sources = Array.from({ length: E }, (_, e) => get(`${m}experts.${e}.${w}.weight`));
      out.push(ggufTensor(`${b}ffn_${g}_exps.weight`, [...ne(sources[0]!), E], matrixDtype, spec.dtype, sources));
    }
  }
  f32('output_norm.weight', 'model.norm.weight');
  mat('output.weight', 'lm_head.weight');
  return out;
}

/** Architecture metadata of MiniMax-M2 (`a` = general.architecture), beyond the keys every arch gets. */
export function minimaxMetadata(c: ModelConfig, a: string): [string, GgufValue][] {
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  return [
    [`${a}.feed_forward_length`, u32(c.moe!.moeIntermediateSize)],
    [`${a}.rope.dimension_count`, u32(c.ropeDim ?? c.headDim)],
    [`${a}.expert_gating_func`, u32(GATING_SIGMOID)],
    [`${a}.expert_weights_norm`, { type: 'bool', value: true }],
  ];
}
