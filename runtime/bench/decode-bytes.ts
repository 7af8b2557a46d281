/** Bytes a decode step reads per token: the memory-bound decode's cost model for `resident bench`. */
import { expectedTensors, isMoeLayer } from '../../engine/model/hf-model.js';
import type { ModelConfig, ModelSpec, TensorDType } from '../../engine/model/model-spec.js';
import { layerKind } from '../../engine/model/families/qwen35-tensors.js';

/**
 * Bytes one single-session decode token reads at context `depth`: every matmul weight it uses (attention
 * projections — Qwen3.5's q_proj is twice as wide, query and gate; Gated DeltaNet projections on hybrids' linear
 * layers; the dense MLP or the router, the `numExpertsPerTok` routed experts and Qwen3.5-MoE's shared expert and
 * its gate; lm_head) at `weightBytes` per value, plus `depth` positions of K and V at `kvBytesPerPosition`
 * (KvSlot.bytesPerToken: attention layers only), plus each linear layer's f32 recurrent state (conv + delta state),
 * read and written once per token. Norms, the embedding row, the conv kernel and activations are left out (under 0.1%).
 */
export function decodeBytesPerToken(c: ModelConfig, weightBytes: number, kvBytesPerPosition: number, depth: number): number {
  const H = c.hiddenSize, QD = c.nHeads * c.headDim, KD = c.nKvHeads * c.headDim;
  // q_proj's rows: nH·D, or twice that where the family's attention is gated (Qwen3.5's query + gate rows)
  const qRows = expectedTensors(c).find((t) => t.name.endsWith('self_attn.q_proj.weight'))?.shape[0] ?? QD;
  let values = c.vocabSize * H; // lm_head
  let stateBytes = 0;
  for (let l = 0; l < c.nLayers; l++) {
    if (layerKind(c, l) === 'linear') {
      const { convKernel: K, numKeyHeads: nk, numValueHeads: nv, keyHeadDim: dk, valueHeadDim: dv } = c.linearAttention!;
      const conv = 2 * nk * dk + nv * dv;
      values += H * (conv + nv * dv + 2 * nv) + nv * dv * H; // in_proj_qkv, z, a, b; out_proj
      stateBytes += 2 * 4 * ((K - 1) * conv + nv * dk * dv); // read + write, f32
    } else {
      values += H * (qRows + QD) + H * KD * 2; // q (and its gate), o; k, v
    }
    if (c.moe && isMoeLayer(c, l)) {
      values += c.moe.numExperts * H + c.moe.numExpertsPerTok * 3 * H * c.moe.moeIntermediateSize;
      if (c.moe.sharedExpertIntermediateSize) values += 3 * H * c.moe.sharedExpertIntermediateSize + H;
    } else {
      values += 3 * H * c.intermediateSize;
    }
  }
  return values * weightBytes + stateBytes + depth * kvBytesPerPosition;
}

/**
 * Mean bytes per value of the matrices a decode token reads, as the files hold them (a GGUF mixes block types, e.g.
 * Q4_K and Q6_K): every 2-D/3-D tensor, the embedding only when it is the tied lm_head.
 */
export function matrixValueBytes(spec: ModelSpec<TensorDType>): number {
  let bytes = 0, values = 0;
  for (const t of spec.tensors) {
    if (t.shape.length < 2 || (t.name.endsWith('embed_tokens.weight') && !spec.config.tieWordEmbeddings)) continue;
    bytes += t.nbytes;
    values += t.shape.reduce((a, b) => a * b, 1);
  }
  return bytes / values;
}
