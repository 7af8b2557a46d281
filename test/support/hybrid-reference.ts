/**
 * A naive float64 forward of Qwen3.5 / 3.6 hybrids (dense and MoE) from the safetensors files, token by token with
 * an explicit state (KV of the attention layers, conv + delta-rule state of the DeltaNet layers), so a prefill and a
 * sequence of single-token decode steps over the same tokens run the same arithmetic. Per layer:
 *   x += mixer(RMSNorm₁₊w(x)); x += FFN(RMSNorm₁₊w(x))
 *   'attention': q|gate = W_q·h per head, RMSNorm₁₊w(q), RMSNorm₁₊w(k), NEOX RoPE on the first ropeDim dims,
 *                causal GQA softmax(q·k/√D)·v, ⊙ σ(gate), W_o   — 'linear': gated-delta-net.ts
 *   FFN: SwiGLU, or softmax top-k experts (renormalised) + σ(W_sg·h) · shared SwiGLU expert
 * then RMSNorm₁₊w → lm_head (or the tied embedding). Zero-centred norms scale by (1 + w).
 */
import type { ModelConfig } from '../../engine/model/model-spec.js';
import { layerKind, weightPrefix } from '../../engine/model/families/qwen35-tensors.js';
import { deltaNetStep, newDeltaNetState, type DeltaNetState, type DeltaNetWeights } from './gated-delta-net.js';
import { logSoftmax } from './numeric.js';
import { headLogits, matvec, rmsNorm, rope, swiglu, swigluWith, track, type MaxAbs, type ReferenceModel, type ReferenceOutput } from './reference-forward.js';

/** The state of one sequence: its length and, per layer, K/V rows or the DeltaNet state. */
export interface HybridState {
  length: number;
  keys: Map<number, Float64Array[]>;
  values: Map<number, Float64Array[]>;
  linear: Map<number, DeltaNetState>;
}

/** An empty sequence. */
export function newHybridState(c: ModelConfig): HybridState {
  const s: HybridState = { length: 0, keys: new Map(), values: new Map(), linear: new Map() };
  for (let l = 0; l < c.nLayers; l++) {
    if (layerKind(c, l) === 'linear') s.linear.set(l, newDeltaNetState(c.linearAttention!));
    else s.keys.set(l, []), s.values.set(l, []);
  }
  return s;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** (1 + w) of a zero-centred norm, cached on the model's weight map under `name + '+1'`. */
function scaleOf(m: ReferenceModel, name: string): Float64Array {
  const key = `${name}+1`;
  let s = m.weights.get(key);
  if (!s) {
    s = m.weights.get(name)!.map((v) => v + 1);
    m.weights.set(key, s);
  }
  return s;
}

function attentionStep(m: ReferenceModel, st: HybridState, l: number, p: string, h: Float64Array, pos: number, stats: MaxAbs): Float64Array {
  const c = m.config;
  const W = m.weights;
  const { hiddenSize: H, nHeads, nKvHeads, headDim: D } = c;
  const rd = c.ropeDim ?? D;
  const qg = matvec(W.get(`${p}self_attn.q_proj.weight`)!, h, nHeads * D * 2, H);
  const k = matvec(W.get(`${p}self_attn.k_proj.weight`)!, h, nKvHeads * D, H);
  const v = matvec(W.get(`${p}self_attn.v_proj.weight`)!, h, nKvHeads * D, H);
  const qn = scaleOf(m, `${p}self_attn.q_norm.weight`);
  const kn = scaleOf(m, `${p}self_attn.k_norm.weight`);
  for (let hd = 0; hd < nKvHeads; hd++) {
    k.set(rmsNorm(k, kn, c.rmsNormEps, hd * D, D), hd * D);
    rope(k, hd * D, rd, pos, c.ropeTheta);
  }
  st.keys.get(l)!.push(k);
  st.values.get(l)!.push(v);
  const keys = st.keys.get(l)!, values = st.values.get(l)!;
  const out = new Float64Array(nHeads * D);
  const w = new Float64Array(keys.length);
  for (let hd = 0; hd < nHeads; hd++) {
    const q = rmsNorm(qg, qn, c.rmsNormEps, hd * 2 * D, D);
    rope(q, 0, rd, pos, c.ropeTheta);
    const kv = Math.floor(hd / (nHeads / nKvHeads));
    let max = -Infinity;
    for (let s = 0; s < keys.length; s++) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += q[i]! * keys[s]![kv * D + i]!;
      stats.attnScore = Math.max(stats.attnScore, Math.abs(dot));
      w[s] = dot / Math.sqrt(D);
      max = Math.max(max, w[s]!);
    }
    let zsum = 0;
    for (let s = 0; s < keys.length; s++) zsum += w[s] = Math.exp(w[s]! - max);
    for (let s = 0; s < keys.length; s++) for (let i = 0; i < D; i++) out[hd * D + i] += (w[s]! / zsum) * values[s]![kv * D + i]!;
    for (let i = 0; i < D; i++) out[hd * D + i] = out[hd * D + i]! * sigmoid(qg[hd * 2 * D + D + i]!);
  }
  return matvec(W.get(`${p}self_attn.o_proj.weight`)!, out, H, nHeads * D);
}

function moeStep(m: ReferenceModel, p: string, x: Float64Array, stats: MaxAbs): Float64Array {
  const { hiddenSize: H, moe } = m.config;
  const { numExperts: E, numExpertsPerTok: k, moeIntermediateSize: I } = moe!;
  const W = m.weights;
  const logits = matvec(W.get(`${p}mlp.gate.weight`)!, x, E, H);
  const max = Math.max(...logits);
  const probs = Array.from(logits, (v) => Math.exp(v - max));
  const top = probs.map((v, e) => [v, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k);
  const norm = top.reduce((a, [v]) => a + v, 0);
  const gu = W.get(`${p}mlp.experts.gate_up_proj`)!, down = W.get(`${p}mlp.experts.down_proj`)!;
  const out = new Float64Array(H);
  for (const [v, e] of top) {
    const gate = gu.subarray(e * 2 * I * H, (e * 2 + 1) * I * H); // [E][gate rows ‖ up rows][H]
    const up = gu.subarray((e * 2 + 1) * I * H, (e * 2 + 2) * I * H);
    const y = swigluWith(gate, up, down.subarray(e * H * I, (e + 1) * H * I), x, H, I, stats);
    for (let i = 0; i < H; i++) out[i] += (v / norm) * y[i]!;
  }
  const shared = swiglu(W, `${p}mlp.shared_expert.`, x, H, moe!.sharedExpertIntermediateSize!, stats);
  const sg = sigmoid(matvec(W.get(`${p}mlp.shared_expert_gate.weight`)!, x, 1, H)[0]!);
  for (let i = 0; i < H; i++) out[i] += sg * shared[i]!;
  return out;
}

function deltaNetWeights(m: ReferenceModel, p: string): DeltaNetWeights {
  const g = (n: string) => m.weights.get(`${p}linear_attn.${n}`)!;
  return {
    qkv: g('in_proj_qkv.weight'), z: g('in_proj_z.weight'), b: g('in_proj_b.weight'), a: g('in_proj_a.weight'),
    conv: g('conv1d.weight'), dtBias: g('dt_bias'), aLog: g('A_log'), norm: g('norm.weight'), out: g('out_proj.weight'),
  };
}

/**
 * Appends `tokens` to the sequence in `state` (a fresh one by default) and returns log-probs after the absolute
 * positions `logitPositions` (default: every new position). The state is updated in place and returned.
 */
export function hybridForward(
  m: ReferenceModel,
  tokens: readonly number[],
  opts: { state?: HybridState; logitPositions?: readonly number[] } = {},
): ReferenceOutput & { state: HybridState } {
  const c = m.config;
  const W = m.weights;
  const { hiddenSize: H, vocabSize: V } = c;
  const st = opts.state ?? newHybridState(c);
  const start = st.length;
  const pre = weightPrefix(c);
  const emb = W.get(`${pre}embed_tokens.weight`)!;
  const stats: MaxAbs = { residual: 0, mlpInner: 0, attnScore: 0, logit: 0 };
  const want = new Set(opts.logitPositions ?? tokens.map((_, i) => start + i));
  for (const pos of want) if (!(Number.isInteger(pos) && pos >= start && pos < start + tokens.length)) throw new RangeError(`logit position ${pos} outside [${start}, ${start + tokens.length})`);
  const positions: number[] = [];
  const hs: Float64Array[] = [];
  tokens.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new RangeError(`token id ${t} outside [0, ${V})`);
    const pos = start + i;
    const x = emb.slice(t * H, (t + 1) * H);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `${pre}layers.${l}.`;
      const h = rmsNorm(x, scaleOf(m, `${p}input_layernorm.weight`), c.rmsNormEps);
      const y = layerKind(c, l) === 'linear'
        ? deltaNetStep(c.linearAttention!, deltaNetWeights(m, p), st.linear.get(l)!, h, H, c.rmsNormEps)
        : attentionStep(m, st, l, p, h, pos, stats);
      for (let j = 0; j < H; j++) x[j] += y[j]!;
      track(stats, 'residual', x);
      const h2 = rmsNorm(x, scaleOf(m, `${p}post_attention_layernorm.weight`), c.rmsNormEps);
      const f = c.moe ? moeStep(m, p, h2, stats) : swiglu(W, `${p}mlp.`, h2, H, c.intermediateSize, stats);
      for (let j = 0; j < H; j++) x[j] += f[j]!;
      track(stats, 'residual', x);
    }
    if (want.has(pos)) {
      positions.push(pos);
      hs.push(rmsNorm(x, scaleOf(m, `${pre}norm.weight`), c.rmsNormEps));
    }
  });
  st.length = start + tokens.length;
  const head = c.tieWordEmbeddings ? emb : W.get('lm_head.weight')!;
  const logits = headLogits(head, hs, V, H);
  for (const row of logits) track(stats, 'logit', row);
  return { positions, logprobs: logits.map(logSoftmax), maxAbs: stats, state: st };
}
