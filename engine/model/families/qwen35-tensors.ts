/**
 * The tensors of a Qwen3.5 / Qwen3.6 hybrid checkpoint (Hugging Face names and shapes, row-major):
 * `{prefix}` is config.weightPrefix ('model.language_model.' for Qwen3_5(Moe)ForConditionalGeneration).
 *   {prefix}embed_tokens.weight [V, H]; per layer i, p = {prefix}layers.i.:
 *   p.input_layernorm.weight [H], p.post_attention_layernorm.weight [H]          (zero-centred: scale = 1 + w)
 *   'attention': p.self_attn.q_proj [nH·D·2, H] (per head: D query rows, then D gate rows), k_proj/v_proj [nKv·D, H],
 *                o_proj [H, nH·D], q_norm/k_norm [D] (zero-centred)
 *   'linear':    p.linear_attn.in_proj_qkv [2·nk·dk + nv·dv, H] (q, k, v rows), in_proj_z [nv·dv, H],
 *                in_proj_b / in_proj_a [nv, H], conv1d.weight [2·nk·dk + nv·dv, 1, K], dt_bias [nv], A_log [nv],
 *                norm.weight [dv] (plain scale, shared by the heads), out_proj [H, nv·dv]
 *   dense MLP:   p.mlp.{gate,up}_proj [I, H], down_proj [H, I]
 *   MoE:         p.mlp.gate.weight [E, H], p.mlp.experts.gate_up_proj [E, 2·Ie, H] (gate rows, then up rows),
 *                p.mlp.experts.down_proj [E, H, Ie], p.mlp.shared_expert.{gate,up}_proj [Is, H], down_proj [H, Is],
 *                p.mlp.shared_expert_gate.weight [1, H]
 *   {prefix}norm.weight [H] (zero-centred); lm_head.weight [V, H] unless tied.
 * Vision (`model.visual.*`) and MTP (`mtp.*`) tensors are recognised and left out.
 */
import type { ExpectedTensor, ModelConfig } from '../model-spec.js';

/** Text-model tensor name prefix of a config ('model.' unless the checkpoint nests it). */
export function weightPrefix(c: ModelConfig): string {
  return c.weightPrefix ?? 'model.';
}

/** Token mixer of layer `i` ('attention' for models without layerKinds). */
export function layerKind(c: ModelConfig, i: number): 'attention' | 'linear' {
  return c.layerKinds?.[i] ?? 'attention';
}

/** True for checkpoint tensors a text-only hybrid run does not use: the vision tower and the MTP head. */
export function isIgnoredHybridTensor(name: string): 'vision' | 'mtp' | undefined {
  if (name.startsWith('model.visual.') || name.startsWith('visual.')) return 'vision';
  if (name.startsWith('mtp.') || name.startsWith('model.mtp.')) return 'mtp';
  return undefined;
}

type Push = (t: ExpectedTensor) => void;

/** Full-attention block tensors under `p` (a layer prefix ending in '.'). */
function attentionBlock(c: ModelConfig, p: string, push: Push): void {
  const { hiddenSize: H, nHeads, nKvHeads, headDim: D } = c;
  push({ name: `${p}self_attn.q_proj.weight`, shape: [nHeads * D * 2, H], kind: 'matrix' });
  push({ name: `${p}self_attn.k_proj.weight`, shape: [nKvHeads * D, H], kind: 'matrix' });
  push({ name: `${p}self_attn.v_proj.weight`, shape: [nKvHeads * D, H], kind: 'matrix' });
  push({ name: `${p}self_attn.o_proj.weight`, shape: [H, nHeads * D], kind: 'matrix' });
  push({ name: `${p}self_attn.q_norm.weight`, shape: [D], kind: 'norm', zeroCentred: true });
  push({ name: `${p}self_attn.k_norm.weight`, shape: [D], kind: 'norm', zeroCentred: true });
}

/** Gated DeltaNet block tensors under `p`. */
function linearBlock(c: ModelConfig, p: string, push: Push): void {
  const H = c.hiddenSize;
  const { convKernel: K, numKeyHeads: nk, numValueHeads: nv, keyHeadDim: dk, valueHeadDim: dv } = c.linearAttention!;
  const convDim = 2 * nk * dk + nv * dv;
  const a = `${p}linear_attn.`;
  push({ name: `${a}in_proj_qkv.weight`, shape: [convDim, H], kind: 'matrix' });
  push({ name: `${a}in_proj_z.weight`, shape: [nv * dv, H], kind: 'matrix' });
  push({ name: `${a}in_proj_b.weight`, shape: [nv, H], kind: 'matrix' });
  push({ name: `${a}in_proj_a.weight`, shape: [nv, H], kind: 'matrix' });
  push({ name: `${a}conv1d.weight`, shape: [convDim, 1, K], kind: 'param' });
  push({ name: `${a}dt_bias`, shape: [nv], kind: 'param' });
  push({ name: `${a}A_log`, shape: [nv], kind: 'param' });
  push({ name: `${a}norm.weight`, shape: [dv], kind: 'norm' });
  push({ name: `${a}out_proj.weight`, shape: [H, nv * dv], kind: 'matrix' });
}

/** Feed-forward tensors under `p`: the dense SwiGLU MLP, or routed experts + the gated shared expert. */
function mlpBlock(c: ModelConfig, p: string, push: Push): void {
  const H = c.hiddenSize;
  const m = c.moe;
  if (!m) {
    const I = c.intermediateSize;
    push({ name: `${p}mlp.gate_proj.weight`, shape: [I, H], kind: 'matrix' });
    push({ name: `${p}mlp.up_proj.weight`, shape: [I, H], kind: 'matrix' });
    push({ name: `${p}mlp.down_proj.weight`, shape: [H, I], kind: 'matrix' });
    return;
  }
  const E = m.numExperts, Ie = m.moeIntermediateSize, Is = m.sharedExpertIntermediateSize!;
  push({ name: `${p}mlp.gate.weight`, shape: [E, H], kind: 'matrix' });
  push({ name: `${p}mlp.experts.gate_up_proj`, shape: [E, 2 * Ie, H], kind: 'matrix' });
  push({ name: `${p}mlp.experts.down_proj`, shape: [E, H, Ie], kind: 'matrix' });
  push({ name: `${p}mlp.shared_expert.gate_proj.weight`, shape: [Is, H], kind: 'matrix' });
  push({ name: `${p}mlp.shared_expert.up_proj.weight`, shape: [Is, H], kind: 'matrix' });
  push({ name: `${p}mlp.shared_expert.down_proj.weight`, shape: [H, Is], kind: 'matrix' });
  push({ name: `${p}mlp.shared_expert_gate.weight`, shape: [1, H], kind: 'matrix' });
}

/** One decoder layer under `p` (input norm, mixer, post-attention norm, MLP). */
function decoderLayer(c: ModelConfig, p: string, kind: 'attention' | 'linear', push: Push): void {
  const H = c.hiddenSize;
  push({ name: `${p}input_layernorm.weight`, shape: [H], kind: 'norm', zeroCentred: true });
  if (kind === 'linear') linearBlock(c, p, push);
  else attentionBlock(c, p, push);
  push({ name: `${p}post_attention_layernorm.weight`, shape: [H], kind: 'norm', zeroCentred: true });
  mlpBlock(c, p, push);
}

/** Every tensor of a Qwen3.5 hybrid's text model, in canonical order (embedding, layers, norm, head). */
export function hybridExpectedTensors(c: ModelConfig): ExpectedTensor[] {
  const pre = weightPrefix(c);
  const out: ExpectedTensor[] = [{ name: `${pre}embed_tokens.weight`, shape: [c.vocabSize, c.hiddenSize], kind: 'matrix' }];
  const push: Push = (t) => out.push(t);
  for (let i = 0; i < c.nLayers; i++) decoderLayer(c, `${pre}layers.${i}.`, layerKind(c, i), push);
  push({ name: `${pre}norm.weight`, shape: [c.hiddenSize], kind: 'norm', zeroCentred: true });
  if (!c.tieWordEmbeddings) push({ name: 'lm_head.weight', shape: [c.vocabSize, c.hiddenSize], kind: 'matrix' });
  return out;
}

/**
 * The MTP head's tensors as the checkpoints ship them (`mtp.fc` [H, 2H] over [embedding norm ‖ hidden norm],
 * its two input norms, one full-attention decoder layer per MTP layer, a final norm); not used by the text model.
 */
export function mtpTensors(c: ModelConfig): ExpectedTensor[] {
  const n = c.mtpLayers ?? 0;
  if (n === 0) return [];
  const H = c.hiddenSize;
  const out: ExpectedTensor[] = [];
  const push: Push = (t) => out.push(t);
  push({ name: 'mtp.fc.weight', shape: [H, 2 * H], kind: 'matrix' });
  push({ name: 'mtp.pre_fc_norm_embedding.weight', shape: [H], kind: 'norm', zeroCentred: true });
  push({ name: 'mtp.pre_fc_norm_hidden.weight', shape: [H], kind: 'norm', zeroCentred: true });
  for (let i = 0; i < n; i++) decoderLayer(c, `mtp.layers.${i}.`, 'attention', push);
  push({ name: 'mtp.norm.weight', shape: [H], kind: 'norm', zeroCentred: true });
  return out;
}
