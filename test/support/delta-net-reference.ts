/**
 * Float64 reference of a Gated DeltaNet (Qwen3.5 / 3.6 linear-attention) layer's core, token by token, written
 * from Hugging Face transformers' Qwen3_5GatedDeltaNet.forward: causal_conv1d_update (+ SiLU), l2norm,
 * torch_recurrent_gated_delta_rule and Qwen3_5RMSNormGated. Covers what engine/native/delta-net.h computes:
 * from the in_proj_qkv / in_proj_z / in_proj_a / in_proj_b outputs to out_proj's input.
 */

/** config.json: linear_num_key_heads, linear_num_value_heads, linear_key_head_dim, linear_value_head_dim, linear_conv_kernel_dim, rms_norm_eps. */
export interface DeltaNetShape {
  nKHeads: number;
  nVHeads: number;
  dK: number;
  dV: number;
  convKernel: number;
  normEps: number;
}

/** One layer's weights in HF layout: conv1d.weight [channels][K], A_log, dt_bias [nVHeads], norm.weight [dV]. */
export interface DeltaNetWeights {
  convW: Float32Array;
  aLog: Float32Array;
  dtBias: Float32Array;
  normW: Float32Array;
}

/** Projection outputs of n tokens: qkv [n][channels], z [n][nV·dV], a and b [n][nV]. */
export interface DeltaNetInputs {
  qkv: Float32Array;
  z: Float32Array;
  a: Float32Array;
  b: Float32Array;
}

/** A sequence's carried state: conv [K - 1][channels] (oldest input first), s [nV][dK][dV]. */
export interface DeltaNetState {
  conv: Float64Array;
  s: Float64Array;
}

/** Value head h reads key head h / (nV / nK) (HF repeat_interleave); 'tile' (h % nK) is llama.cpp's GGUF order, for contrast. */
export type HeadMapping = 'interleave' | 'tile';

export const channels = (s: DeltaNetShape): number => (2 * s.nKHeads * s.dK) + s.nVHeads * s.dV;

const silu = (x: number): number => x / (1 + Math.exp(-x));
const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));

/** x · rsqrt(Σ x² + 1e-6) · scale (HF l2norm). */
function l2norm(x: Float64Array, scale: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const f = scale / Math.sqrt(ss + 1e-6);
  return x.map((v) => v * f);
}

/**
 * Runs tokens [t0, t0 + n) of `inp` through the layer, updating `state` in place; returns out [n][nV·dV].
 */
export function deltaNetReference(shape: DeltaNetShape, w: DeltaNetWeights, inp: DeltaNetInputs, t0: number, n: number,
  state: DeltaNetState, mapping: HeadMapping = 'interleave'): Float64Array {
  const { nKHeads: nK, nVHeads: nV, dK, dV, convKernel: K } = shape;
  const ch = channels(shape), kd = nK * dK, vd = nV * dV;
  const out = new Float64Array(n * vd);
  const y = new Float64Array(ch);
  for (let t = 0; t < n; t++) {
    const row = t0 + t;
    // causal conv1d over [state rows..., x_t] (HF causal_conv1d_update), SiLU; the state keeps the last K - 1 inputs
    for (let c = 0; c < ch; c++) {
      const xt = inp.qkv[row * ch + c]!;
      let acc = 0;
      for (let j = 0; j < K - 1; j++) acc += w.convW[c * K + j]! * state.conv[j * ch + c]!;
      acc += w.convW[c * K + K - 1]! * xt;
      for (let j = 0; j < K - 2; j++) state.conv[j * ch + c] = state.conv[(j + 1) * ch + c]!;
      state.conv[(K - 2) * ch + c] = xt;
      y[c] = silu(acc);
    }
    const q = Array.from({ length: nK }, (_, h) => l2norm(y.slice(h * dK, (h + 1) * dK), 1 / Math.sqrt(dK)));
    const k = Array.from({ length: nK }, (_, h) => l2norm(y.slice(kd + h * dK, kd + (h + 1) * dK), 1));
    for (let h = 0; h < nV; h++) {
      const kh = mapping === 'interleave' ? Math.floor(h / (nV / nK)) : h % nK;
      const qh = q[kh]!, khv = k[kh]!;
      const g = -Math.exp(w.aLog[h]!) * softplus(inp.a[row * nV + h]! + w.dtBias[h]!);
      const beta = 1 / (1 + Math.exp(-inp.b[row * nV + h]!));
      const S = state.s.subarray(h * dK * dV, (h + 1) * dK * dV);
      const e = Math.exp(g);
      for (let i = 0; i < S.length; i++) S[i] = S[i]! * e;
      const delta = new Float64Array(dV);
      for (let j = 0; j < dV; j++) {
        let kv = 0;
        for (let i = 0; i < dK; i++) kv += S[i * dV + j]! * khv[i]!;
        delta[j] = (y[2 * kd + h * dV + j]! - kv) * beta;
      }
      for (let i = 0; i < dK; i++) for (let j = 0; j < dV; j++) S[i * dV + j] = S[i * dV + j]! + khv[i]! * delta[j]!;
      const o = new Float64Array(dV);
      let ss = 0;
      for (let j = 0; j < dV; j++) {
        let acc = 0;
        for (let i = 0; i < dK; i++) acc += S[i * dV + j]! * qh[i]!;
        o[j] = acc;
        ss += acc * acc;
      }
      // Qwen3_5RMSNormGated: rmsnorm over the head, weight as stored, times silu(z)
      const r = 1 / Math.sqrt(ss / dV + shape.normEps);
      for (let j = 0; j < dV; j++)
        out[t * vd + h * dV + j] = o[j]! * r * w.normW[j]! * silu(inp.z[row * vd + h * dV + j]!);
    }
  }
  return out;
}
