/**
 * A naive float64 MiniMax-M2 forward from the safetensors files, for tiny shapes. Per layer:
 *   h = RMSNorm(x); q, k, v = W·h; q = RMSNorm over all nH·D values (q_norm [nH·D]), k likewise (k_norm [nKv·D]);
 *   NEOX RoPE on the first ropeDim dims of each head; causal GQA softmax(q·k/√D)·v; x += W_o·att
 *   h = RMSNorm(x); s = σ(W_g·h); the top-k experts by s + e_score_correction_bias (ties: lower index), weighted by
 *   s / Σ_chosen s; x += Σ w_e · w2(silu(w1·h) ⊙ w3·h)
 * then RMSNorm → lm_head.
 */
import { logSoftmax } from './numeric.js';
import { causalAttention, headLogits, matvec, rmsNorm, rope, swigluWith, track, type MaxAbs, type ReferenceModel, type ReferenceOutput } from './reference-forward.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The sigmoid-routed MoE block of layer prefix `p` on one normed hidden vector. */
function moe(m: ReferenceModel, p: string, h: Float64Array, stats: MaxAbs): Float64Array {
  const { hiddenSize: H, moe: cfg } = m.config;
  const { numExperts: E, numExpertsPerTok: K, moeIntermediateSize: I } = cfg!;
  const W = m.weights;
  const s = Array.from(matvec(W.get(`${p}block_sparse_moe.gate.weight`)!, h, E, H), sigmoid);
  const bias = W.get(`${p}block_sparse_moe.e_score_correction_bias`)!;
  const top = s.map((v, e) => [v + bias[e]!, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, K).map(([, e]) => e);
  const norm = top.reduce((a, e) => a + s[e]!, 0);
  const out = new Float64Array(H);
  for (const e of top) {
    const x = `${p}block_sparse_moe.experts.${e}.`;
    const y = swigluWith(W.get(`${x}w1.weight`)!, W.get(`${x}w3.weight`)!, W.get(`${x}w2.weight`)!, h, H, I, stats);
    for (let i = 0; i < H; i++) out[i] += (s[e]! / norm) * y[i]!;
  }
  return out;
}

/** Runs the model over `tokens` (positions 0..n−1); log-probs at `logitPositions` (default all). */
export function minimaxForward(m: ReferenceModel, tokens: readonly number[], opts: { logitPositions?: readonly number[] } = {}): ReferenceOutput {
  const c = m.config;
  const W = m.weights;
  const { hiddenSize: H, nHeads, nKvHeads, headDim: D, vocabSize: V } = c;
  const rd = c.ropeDim ?? D;
  const scale = 1 / Math.sqrt(D);
  const emb = W.get('model.embed_tokens.weight')!;
  const xs = tokens.map((t) => emb.slice(t * H, (t + 1) * H));
  const stats: MaxAbs = { residual: 0, mlpInner: 0, attnScore: 0, logit: 0 };
  const n = tokens.length;
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const q: Float64Array[] = [], k: Float64Array[] = [], v: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const h = rmsNorm(xs[t]!, W.get(`${p}input_layernorm.weight`)!, c.rmsNormEps);
      const qt = rmsNorm(matvec(W.get(`${p}self_attn.q_proj.weight`)!, h, nHeads * D, H), W.get(`${p}self_attn.q_norm.weight`)!, c.rmsNormEps);
      const kt = rmsNorm(matvec(W.get(`${p}self_attn.k_proj.weight`)!, h, nKvHeads * D, H), W.get(`${p}self_attn.k_norm.weight`)!, c.rmsNormEps);
      for (let hd = 0; hd < nHeads; hd++) rope(qt, hd * D, rd, t, c.ropeTheta);
      for (let hd = 0; hd < nKvHeads; hd++) rope(kt, hd * D, rd, t, c.ropeTheta);
      q.push(qt);
      k.push(kt);
      v.push(matvec(W.get(`${p}self_attn.v_proj.weight`)!, h, nKvHeads * D, H));
    }
    const att = causalAttention(q, k, v, nHeads, nKvHeads, D, scale, stats).out;
    for (let t = 0; t < n; t++) {
      const x = xs[t]!;
      const o = matvec(W.get(`${p}self_attn.o_proj.weight`)!, att[t]!, H, nHeads * D);
      for (let i = 0; i < H; i++) x[i] += o[i]!;
      const y = moe(m, p, rmsNorm(x, W.get(`${p}post_attention_layernorm.weight`)!, c.rmsNormEps), stats);
      for (let i = 0; i < H; i++) x[i] += y[i]!;
      track(stats, 'residual', x);
    }
  }
  const positions = opts.logitPositions ? [...new Set(opts.logitPositions)].sort((a, b) => a - b) : tokens.map((_, i) => i);
  const hs = positions.map((pos) => rmsNorm(xs[pos]!, W.get('model.norm.weight')!, c.rmsNormEps));
  const logits = headLogits(W.get('lm_head.weight')!, hs, V, H);
  for (const r of logits) track(stats, 'logit', r);
  return { positions, logprobs: logits.map(logSoftmax), maxAbs: stats };
}
