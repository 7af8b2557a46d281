/**
 * A naive float64 Qwen3 (dense and MoE) forward straight from the safetensors files, for tiny shapes:
 * the ground truth that llama.cpp and the native engine are compared with.
 * Embedding → per layer [RMSNorm → q/k/v → per-head q_norm/k_norm → NEOX RoPE → causal GQA attention
 * → o_proj → residual → RMSNorm → SwiGLU MLP (or top-k MoE) → residual] → RMSNorm → lm_head (or tied embedding).
 */
import { logSoftmax } from '../../engine/decode/logit-math.js';
import { decodeToF64 } from '../../engine/model/float-convert.js';
import { isMoeLayer, loadModelSpec } from '../../engine/model/hf-model.js';
import { tensorBytes } from '../../engine/model/tensor-bytes.js';
import type { ModelConfig, ModelSpec, TensorRef } from '../../engine/model/model-spec.js';

/** A model's weights decoded to float64, keyed by Hugging Face tensor name (row-major, HF shapes). */
export interface ReferenceModel {
  spec: ModelSpec;
  config: ModelConfig;
  weights: Map<string, Float64Array>;
}

/** Result of referenceForward. */
export interface ReferenceOutput {
  /** Positions that have log-probs, ascending. */
  positions: number[];
  /** logprobs[r] = full-vocabulary log-softmax of the next-token logits after token positions[r]. */
  logprobs: Float64Array[];
  /** attention[layer][head][q] = softmax weights over keys 0..q (only with captureAttention). */
  attention?: Float64Array[][][];
  /** Largest magnitudes seen (to check f16 headroom): residual stream, MLP intermediate (silu(g)·u, and g, u), q·k scores, logits. */
  maxAbs: { residual: number; mlpInner: number; attnScore: number; logit: number };
}

/** A tensor's values (in-memory converted tensors, e.g. of FP8 folders, through their data). */
function readTensor(ref: TensorRef): Float64Array {
  return decodeToF64(ref.dtype, tensorBytes(ref));
}

/** Loads every tensor of the model folder into float64 (tiny models only: the embedding alone is vocab × hidden × 8 bytes). */
export async function loadReference(dir: string): Promise<ReferenceModel> {
  const spec = await loadModelSpec(dir);
  const weights = new Map<string, Float64Array>();
  for (const t of spec.tensors) weights.set(t.name, readTensor(t));
  return { spec, config: spec.config, weights };
}

/** y[rows] = W[rows × cols] · x[cols]. */
export function matvec(w: Float64Array, x: Float64Array, rows: number, cols: number, out = new Float64Array(rows)): Float64Array {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c]! * x[c]!;
    out[r] = s;
  }
  return out;
}

/** RMSNorm of x[off, off + n) with scale w (length n). */
export function rmsNorm(x: Float64Array, w: Float64Array, eps: number, off = 0, n = x.length - off, out = new Float64Array(n)): Float64Array {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[off + i]! ** 2;
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[i] = x[off + i]! * inv * w[i]!;
  return out;
}

/** NEOX RoPE in place on x[off, off + d): pairs (i, i + d/2), frequency θ^(−2i/d). */
export function rope(x: Float64Array, off: number, d: number, pos: number, theta: number): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const ang = pos * Math.pow(theta, (-2 * i) / d);
    const c = Math.cos(ang);
    const s = Math.sin(ang);
    const a = x[off + i]!;
    const b = x[off + i + half]!;
    x[off + i] = a * c - b * s;
    x[off + i + half] = b * c + a * s;
  }
}

/** x · σ(x). */
export const silu = (v: number) => v / (1 + Math.exp(-v));

/** Largest magnitudes seen, by kind. */
export type MaxAbs = ReferenceOutput['maxAbs'];
/** Raises m[key] to max |v|. */
export function track(m: MaxAbs, key: keyof MaxAbs, v: ArrayLike<number>): void {
  let x = m[key];
  for (let i = 0; i < v.length; i++) x = Math.max(x, Math.abs(v[i]!));
  m[key] = x;
}

/** down · (silu(gate · x) ⊙ (up · x)) for gate/up [I × H] and down [H × I] (views of larger tensors allowed). */
export function swigluWith(gate: Float64Array, up: Float64Array, down: Float64Array, x: Float64Array, H: number, I: number, stats: MaxAbs): Float64Array {
  const g = matvec(gate, x, I, H);
  const u = matvec(up, x, I, H);
  track(stats, 'mlpInner', g);
  track(stats, 'mlpInner', u);
  for (let i = 0; i < I; i++) g[i] = silu(g[i]!) * u[i]!;
  track(stats, 'mlpInner', g);
  return matvec(down, g, H, I);
}

/** swigluWith the `{p}gate_proj/up_proj/down_proj.weight` tensors. */
export function swiglu(W: Map<string, Float64Array>, p: string, x: Float64Array, H: number, I: number, stats: MaxAbs): Float64Array {
  return swigluWith(W.get(`${p}gate_proj.weight`)!, W.get(`${p}up_proj.weight`)!, W.get(`${p}down_proj.weight`)!, x, H, I, stats);
}

function moe(m: ReferenceModel, p: string, x: Float64Array, stats: MaxAbs): Float64Array {
  const { hiddenSize: H, moe: cfg } = m.config;
  const E = cfg!.numExperts;
  const logits = matvec(m.weights.get(`${p}mlp.gate.weight`)!, x, E, H);
  const max = Math.max(...logits);
  const probs = Array.from(logits, (l) => Math.exp(l - max));
  const z = probs.reduce((a, b) => a + b, 0);
  const order = probs.map((v, e) => [v / z, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const top = order.slice(0, cfg!.numExpertsPerTok);
  const norm = cfg!.normTopkProb ? top.reduce((a, [w]) => a + w, 0) : 1;
  const out = new Float64Array(H);
  for (const [w, e] of top) {
    const y = swiglu(m.weights, `${p}mlp.experts.${e}.`, x, H, cfg!.moeIntermediateSize, stats);
    for (let i = 0; i < H; i++) out[i] += (w / norm) * y[i]!;
  }
  return out;
}

/** logits[j] = head[V × H] · hs[j], four positions per pass over the matrix (it is the bulk of the work). */
export function headLogits(head: Float64Array, hs: Float64Array[], V: number, H: number): Float64Array[] {
  const out = hs.map(() => new Float64Array(V));
  for (let j0 = 0; j0 < hs.length; j0 += 4) {
    const cnt = Math.min(4, hs.length - j0);
    const a = hs[j0]!;
    const b = hs[j0 + Math.min(1, cnt - 1)]!;
    const c = hs[j0 + Math.min(2, cnt - 1)]!;
    const d = hs[j0 + Math.min(3, cnt - 1)]!;
    const oa = out[j0]!;
    const ob = out[j0 + Math.min(1, cnt - 1)]!;
    const oc = out[j0 + Math.min(2, cnt - 1)]!;
    const od = out[j0 + Math.min(3, cnt - 1)]!;
    for (let r = 0; r < V; r++) {
      let sa = 0, sb = 0, sc = 0, sd = 0;
      const base = r * H;
      for (let i = 0; i < H; i++) {
        const w = head[base + i]!;
        sa += w * a[i]!;
        sb += w * b[i]!;
        sc += w * c[i]!;
        sd += w * d[i]!;
      }
      oa[r] = sa;
      ob[r] = sb;
      oc[r] = sc;
      od[r] = sd;
    }
  }
  return out;
}

/**
 * Runs the model over `tokens` (positions 0..n-1). `logitPositions`: which positions get log-probs (default all).
 * `captureAttention`: also return the attention weights of every layer/head/query.
 */
export function referenceForward(
  m: ReferenceModel,
  tokens: readonly number[],
  opts: { logitPositions?: readonly number[]; captureAttention?: boolean } = {},
): ReferenceOutput {
  const c = m.config;
  const W = m.weights;
  const { hiddenSize: H, nHeads, nKvHeads, headDim: D, vocabSize: V } = c;
  const n = tokens.length;
  const scale = 1 / Math.sqrt(D);
  const emb = W.get('model.embed_tokens.weight')!;
  const xs = tokens.map((t) => {
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new RangeError(`token id ${t} outside [0, ${V})`);
    return emb.slice(t * H, (t + 1) * H);
  });
  const attention: Float64Array[][][] | undefined = opts.captureAttention ? [] : undefined;
  const stats: MaxAbs = { residual: 0, mlpInner: 0, attnScore: 0, logit: 0 };
  for (const x of xs) track(stats, 'residual', x);

  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const h = rmsNorm(xs[t]!, W.get(`${p}input_layernorm.weight`)!, c.rmsNormEps);
      const qt = matvec(W.get(`${p}self_attn.q_proj.weight`)!, h, nHeads * D, H);
      const kt = matvec(W.get(`${p}self_attn.k_proj.weight`)!, h, nKvHeads * D, H);
      for (let hd = 0; hd < nHeads; hd++) {
        qt.set(rmsNorm(qt, W.get(`${p}self_attn.q_norm.weight`)!, c.rmsNormEps, hd * D, D), hd * D);
        rope(qt, hd * D, D, t, c.ropeTheta);
      }
      for (let hd = 0; hd < nKvHeads; hd++) {
        kt.set(rmsNorm(kt, W.get(`${p}self_attn.k_norm.weight`)!, c.rmsNormEps, hd * D, D), hd * D);
        rope(kt, hd * D, D, t, c.ropeTheta);
      }
      q.push(qt);
      k.push(kt);
      v.push(matvec(W.get(`${p}self_attn.v_proj.weight`)!, h, nKvHeads * D, H));
    }
    const { out: attnOut, weights } = causalAttention(q, k, v, nHeads, nKvHeads, D, scale, stats, !!attention);
    if (attention) attention.push(weights!);
    for (let t = 0; t < n; t++) {
      const o = matvec(W.get(`${p}self_attn.o_proj.weight`)!, attnOut[t]!, H, nHeads * D);
      const x = xs[t]!;
      for (let i = 0; i < H; i++) x[i] += o[i]!;
      track(stats, 'residual', x);
      const h = rmsNorm(x, W.get(`${p}post_attention_layernorm.weight`)!, c.rmsNormEps);
      const y = isMoeLayer(c, l) ? moe(m, p, h, stats) : swiglu(W, `${p}mlp.`, h, H, c.intermediateSize, stats);
      for (let i = 0; i < H; i++) x[i] += y[i]!;
      track(stats, 'residual', x);
    }
  }

  const positions = opts.logitPositions ? [...new Set(opts.logitPositions)].sort((a, b) => a - b) : tokens.map((_, i) => i);
  for (const pos of positions) if (!(Number.isInteger(pos) && pos >= 0 && pos < n)) throw new RangeError(`logit position ${pos} outside [0, ${n})`);
  const head = c.tieWordEmbeddings ? emb : W.get('lm_head.weight')!;
  const hs = positions.map((pos) => rmsNorm(xs[pos]!, W.get('model.norm.weight')!, c.rmsNormEps));
  const logits = headLogits(head, hs, V, H);
  for (const row of logits) track(stats, 'logit', row);
  const logprobs = logits.map(logSoftmax);
  return attention ? { positions, logprobs, attention, maxAbs: stats } : { positions, logprobs, maxAbs: stats };
}

/** Top-k (id, logprob) of a log-prob row, best first (ties: lower id first). */
export function topK(row: Float64Array | Float32Array, k: number): { id: number; logprob: number }[] {
  const best: { id: number; logprob: number }[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (best.length < k || v > best[best.length - 1]!.logprob) {
      let j = best.length < k ? best.length : k - 1;
      while (j > 0 && best[j - 1]!.logprob < v) j--;
      best.splice(j, 0, { id: i, logprob: v });
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/**
 * Causal GQA attention over a whole prompt in float64: out[t][h·D + i] = Σ_{s ≤ t} softmax_s(q_t·k_s · scale) v_s,
 * head h reading KV head ⌊h / (nHeads / nKvHeads)⌋. q: [n][nHeads·D], k/v: [n][nKvHeads·D]. keepWeights: the
 * softmax rows, [head][t][s ≤ t]. Tracks the largest |q·k| in stats.attnScore.
 */
export function causalAttention(q: Float64Array[], k: Float64Array[], v: Float64Array[], nHeads: number, nKvHeads: number, D: number, scale: number, stats: MaxAbs, keepWeights = false): { out: Float64Array[]; weights?: Float64Array[][] } {
  const n = q.length, group = nHeads / nKvHeads;
  const out = Array.from({ length: n }, () => new Float64Array(nHeads * D));
  const weights: Float64Array[][] = [];
  for (let hd = 0; hd < nHeads; hd++) {
    const kv = Math.floor(hd / group);
    const headWeights: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const w = new Float64Array(t + 1);
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += q[t]![hd * D + i]! * k[s]![kv * D + i]!;
        w[s] = dot * scale;
        if (w[s]! > max) max = w[s]!;
        if (Math.abs(dot) > stats.attnScore) stats.attnScore = Math.abs(dot);
      }
      let z = 0;
      for (let s = 0; s <= t; s++) z += w[s] = Math.exp(w[s]! - max);
      for (let s = 0; s <= t; s++) {
        w[s] = w[s]! / z;
        for (let i = 0; i < D; i++) out[t]![hd * D + i] += w[s]! * v[s]![kv * D + i]!;
      }
      if (keepWeights) headWeights.push(w);
    }
    if (keepWeights) weights.push(headWeights);
  }
  return keepWeights ? { out, weights } : { out };
}
