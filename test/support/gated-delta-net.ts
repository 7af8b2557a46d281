/**
 * One token of a Qwen3.5 Gated DeltaNet layer in float64, in its simple recurrent form (the reference a chunked
 * implementation must match), with Hugging Face's tensor layout (value heads grouped by key head):
 *   qkv = W_qkv·h; window = [last K−1 qkv rows ‖ qkv]; c = silu(Σ_j conv[·, j] · window[j]) (depthwise, causal)
 *   q, k, v = split(c, [nk·dk, nk·dk, nv·dv]); q, k L2-normalised per head (eps 1e-6), q /= √dk
 *   β = σ(W_b·h), g = −exp(A_log) · softplus(W_a·h + dt_bias)            (per value head)
 *   per value head v (key head ⌊v / (nv/nk)⌋), state S [dk][dv]:
 *     S ← exp(g)·S;  δ = β·(v − Sᵀk);  S ← S + k ⊗ δ;  o = Sᵀq
 *   y = W_out · (RMSNorm(o per head) · norm.weight · silu(W_z·h))
 */
import { matvec, rmsNorm, silu } from './reference-forward.js';
import type { LinearAttentionConfig } from '../../engine/model/model-spec.js';

/** Recurrent state of one DeltaNet layer: the last K−1 conv inputs (oldest first) and S [nv][dk][dv]. */
export interface DeltaNetState {
  conv: Float64Array[];
  ssm: Float64Array;
}

/** A zero state (what a fresh sequence starts from). */
export function newDeltaNetState(la: LinearAttentionConfig): DeltaNetState {
  const convDim = 2 * la.numKeyHeads * la.keyHeadDim + la.numValueHeads * la.valueHeadDim;
  return {
    conv: Array.from({ length: la.convKernel - 1 }, () => new Float64Array(convDim)),
    ssm: new Float64Array(la.numValueHeads * la.keyHeadDim * la.valueHeadDim),
  };
}

/** The layer's weights (float64, HF shapes). */
export interface DeltaNetWeights {
  qkv: Float64Array;
  z: Float64Array;
  b: Float64Array;
  a: Float64Array;
  conv: Float64Array;
  dtBias: Float64Array;
  aLog: Float64Array;
  norm: Float64Array;
  out: Float64Array;
}

const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

function l2normalize(x: Float64Array, off: number, n: number, scale: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[off + i]! ** 2;
  const inv = scale / Math.sqrt(ss + 1e-6);
  for (let i = 0; i < n; i++) x[off + i] = x[off + i]! * inv;
}

/** Runs one token `h` (the normed hidden state, length H) through the layer; updates `st`, returns the output (length H). */
export function deltaNetStep(la: LinearAttentionConfig, w: DeltaNetWeights, st: DeltaNetState, h: Float64Array, H: number, eps: number): Float64Array {
  const { numKeyHeads: nk, numValueHeads: nv, keyHeadDim: dk, valueHeadDim: dv, convKernel: K } = la;
  const convDim = 2 * nk * dk + nv * dv;
  const qkv = matvec(w.qkv, h, convDim, H);
  const window = [...st.conv, qkv];
  st.conv = window.slice(1);
  const c = new Float64Array(convDim);
  for (let ch = 0; ch < convDim; ch++) {
    let s = 0;
    for (let j = 0; j < K; j++) s += w.conv[ch * K + j]! * window[j]![ch]!;
    c[ch] = silu(s);
  }
  for (let hd = 0; hd < nk; hd++) {
    l2normalize(c, hd * dk, dk, 1 / Math.sqrt(dk)); // q
    l2normalize(c, nk * dk + hd * dk, dk, 1); // k
  }
  const z = matvec(w.z, h, nv * dv, H);
  const b = matvec(w.b, h, nv, H);
  const a = matvec(w.a, h, nv, H);
  const o = new Float64Array(nv * dv);
  const delta = new Float64Array(dv);
  for (let v = 0; v < nv; v++) {
    const kh = Math.floor(v / (nv / nk));
    const q = c.subarray(kh * dk, (kh + 1) * dk);
    const k = c.subarray(nk * dk + kh * dk, nk * dk + (kh + 1) * dk);
    const val = c.subarray(2 * nk * dk + v * dv, 2 * nk * dk + (v + 1) * dv);
    const beta = 1 / (1 + Math.exp(-b[v]!));
    const decay = Math.exp(-Math.exp(w.aLog[v]!) * softplus(a[v]! + w.dtBias[v]!));
    const S = st.ssm.subarray(v * dk * dv, (v + 1) * dk * dv); // S[i][j] at i·dv + j
    for (let i = 0; i < dk * dv; i++) S[i] = S[i]! * decay;
    for (let j = 0; j < dv; j++) {
      let mem = 0;
      for (let i = 0; i < dk; i++) mem += S[i * dv + j]! * k[i]!;
      delta[j] = (val[j]! - mem) * beta;
    }
    for (let i = 0; i < dk; i++) for (let j = 0; j < dv; j++) S[i * dv + j] = S[i * dv + j]! + k[i]! * delta[j]!;
    for (let j = 0; j < dv; j++) {
      let s = 0;
      for (let i = 0; i < dk; i++) s += S[i * dv + j]! * q[i]!;
      o[v * dv + j] = s;
    }
    const normed = rmsNorm(o, w.norm, eps, v * dv, dv);
    for (let j = 0; j < dv; j++) o[v * dv + j] = normed[j]! * silu(z[v * dv + j]!);
  }
  return matvec(w.out, o, H, nv * dv);
}
