/**
 * Random-weight init of Qwen3.5 hybrid tensors (the counterpart of make-model's `initFor`), chosen so the model is
 * peaked and uses its context: logits ≈ N(0, 10²) over the vocabulary, attention logits of std ≈ 1.8², Gated DeltaNet
 * decays exp(g) spread over (0, 1) per head (A_log ≈ N(−2, 1.5²), dt_bias ≈ 1: some heads keep ~100 tokens, some ~1),
 * β = σ(b) around ½, and every sublayer adding a residual update of the embedding's order. Zero-centred norms store
 * w for a scale of (1 + w).
 */
import { ModelLoadError } from '../errors.js';
import type { ExpectedTensor, ModelConfig } from '../model/model-spec.js';

/** Std of the output logits over the vocabulary. */
const LOGIT_SPREAD = 10;
/** q_norm/k_norm scale: attention logits have std ≈ QK_GAIN². */
const QK_GAIN = 1.8;
/** Std of router logits (MoE). */
const ROUTER_SPREAD = 2;
/** Residual update gains (× the embedding's rms); the output gates (σ ≈ ½, silu(z)) are compensated for. */
const ATTN_OUT_GAIN = 4;
const LINEAR_OUT_GAIN = 4;
const MLP_OUT_GAIN = 2.5;

/** mean and std of tensor `t` (value = mean + std·n, n ≈ N(0, 1)). */
export function hybridInitFor(t: ExpectedTensor, c: ModelConfig): { mean: number; std: number } {
  const { name } = t;
  const H = c.hiddenSize;
  const scaled = (scale: number, std: number) => (t.zeroCentred ? { mean: scale - 1, std } : { mean: scale, std });
  if (name.endsWith('embed_tokens.weight') || name === 'lm_head.weight') return { mean: 0, std: 1 };
  if (t.kind === 'norm') {
    if (t.shape[0] === H && /(^|\.)norm\.weight$/.test(name) && !name.includes('.layers.')) {
      const g = LOGIT_SPREAD / Math.sqrt(H); // the final norm (and MTP's): logits ≈ N(0, LOGIT_SPREAD²)
      return scaled(g, 0.05 * g);
    }
    if (name.endsWith('q_norm.weight') || name.endsWith('k_norm.weight')) return scaled(QK_GAIN, 0.1);
    return scaled(1, 0.05); // layer norms, DeltaNet's gated norm
  }
  const la = c.linearAttention;
  if (name.endsWith('linear_attn.conv1d.weight')) return { mean: 0, std: 1 / Math.sqrt(la!.convKernel) };
  if (name.endsWith('linear_attn.A_log')) return { mean: -2, std: 1.5 };
  if (name.endsWith('linear_attn.dt_bias')) return { mean: 1, std: 0.5 };
  if (name.endsWith('linear_attn.out_proj.weight')) return { mean: 0, std: LINEAR_OUT_GAIN / Math.sqrt(la!.numValueHeads * la!.valueHeadDim) };
  if (name.endsWith('self_attn.o_proj.weight')) return { mean: 0, std: ATTN_OUT_GAIN / Math.sqrt(c.nHeads * c.headDim) };
  if (name.endsWith('mlp.gate.weight')) return { mean: 0, std: ROUTER_SPREAD / Math.sqrt(H) };
  if (name.endsWith('mlp.experts.down_proj')) {
    // k experts mixed with weights summing to 1 shrink the rms by ≈ √k: compensate
    return { mean: 0, std: (MLP_OUT_GAIN * Math.sqrt(c.moe!.numExpertsPerTok)) / Math.sqrt(c.moe!.moeIntermediateSize) };
  }
  if (name.endsWith('shared_expert.down_proj.weight')) return { mean: 0, std: MLP_OUT_GAIN / Math.sqrt(c.moe!.sharedExpertIntermediateSize!) };
  if (name.endsWith('mlp.down_proj.weight')) return { mean: 0, std: MLP_OUT_GAIN / Math.sqrt(c.intermediateSize) };
  if (name === 'mtp.fc.weight') return { mean: 0, std: 1 / Math.sqrt(2 * H) };
  if (t.kind === 'matrix' && t.shape[t.shape.length - 1] === H) return { mean: 0, std: 1 / Math.sqrt(H) }; // input projections: outputs ≈ N(0, 1)
  throw new ModelLoadError(`no init rule for tensor '${name}'`, undefined, name);
}
