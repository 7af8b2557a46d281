/** Bytes a decode step reads per token: the memory-bound decode's cost model for `resident bench`. */
import { isMoeLayer } from '../../engine/model/hf-model.js';
import type { ModelConfig } from '../../engine/model/model-spec.js';

/**
 * Bytes one single-session decode token reads at context `depth`: every matmul weight it uses (attention
 * projections; the dense MLP or the router and the `numExpertsPerTok` routed experts; lm_head) at
 * `weightBytes` per value, plus `depth` positions of K and V at `kvBytesPerPosition` (KvSlot.bytesPerToken).
 * Norms, the embedding row and activations are left out (under 0.1%).
 */
export function decodeBytesPerToken(c: ModelConfig, weightBytes: number, kvBytesPerPosition: number, depth: number): number {
  const H = c.hiddenSize, QD = c.nHeads * c.headDim, KD = c.nKvHeads * c.headDim;
  let values = c.vocabSize * H; // lm_head
  for (let l = 0; l < c.nLayers; l++) {
    values += H * QD * 2 + H * KD * 2; // q, o; k, v
    values += c.moe && isMoeLayer(c, l)
      ? c.moe.numExperts * H + c.moe.numExpertsPerTok * 3 * H * c.moe.moeIntermediateSize
      : 3 * H * c.intermediateSize;
  }
  return values * weightBytes + depth * kvBytesPerPosition;
}
