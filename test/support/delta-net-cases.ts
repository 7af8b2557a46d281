/**
 * Random Gated DeltaNet layers and inputs for the native block's tests, and a runner for the native test
 * hook (deltaNetTest) and the float64 reference over a batch of sequences with carried states.
 */
import { nativeBinding } from '../../engine/native.js';
import { channels, deltaNetReference, type DeltaNetInputs, type DeltaNetShape, type DeltaNetWeights, type HeadMapping } from './delta-net-reference.js';

export type Mode = 'auto' | 'recurrent' | 'chunked';

/** Qwen3.5-0.8B's linear-attention layer (config.json: 16 k-heads, 16 v-heads, 128 / 128, conv 4, eps 1e-6). */
export const QWEN35_08B: DeltaNetShape = { nKHeads: 16, nVHeads: 16, dK: 128, dV: 128, convKernel: 4, normEps: 1e-6 };

/** Seeded normal(0, 1) samples (LCG + Box-Muller). */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const fill = (n: number, f: () => number) => Float32Array.from({ length: n }, f);

/** Weights with A = exp(A_log) spread over [0.007, 12] across heads: slow and fast decaying heads alike. */
export function randomWeights(shape: DeltaNetShape, seed: number): DeltaNetWeights {
  const r = gaussian(seed), ch = channels(shape);
  return {
    convW: fill(ch * shape.convKernel, () => 0.4 * r()),
    aLog: Float32Array.from({ length: shape.nVHeads }, (_, h) => -5 + (7.5 * h) / Math.max(1, shape.nVHeads - 1)),
    dtBias: fill(shape.nVHeads, () => 0.5 * r()),
    normW: fill(shape.dV, () => 1 + 0.1 * r()),
  };
}

/** Projection outputs of n tokens; gates scaled by `gate` (large values saturate softplus and the sigmoid). */
export function randomInputs(shape: DeltaNetShape, n: number, seed: number, gate = 1): DeltaNetInputs {
  const r = gaussian(seed);
  return {
    qkv: fill(n * channels(shape), r),
    z: fill(n * shape.nVHeads * shape.dV, r),
    a: fill(n * shape.nVHeads, () => gate * r()),
    b: fill(n * shape.nVHeads, () => 2 * gate * r()),
  };
}

/** States of `seqs` sequences: zeros, or random (as if carried from earlier tokens). */
export function initialStates(shape: DeltaNetShape, seqs: number, seed?: number): { conv: Float32Array; s: Float32Array } {
  const r = seed === undefined ? () => 0 : gaussian(seed);
  return {
    conv: fill(seqs * (shape.convKernel - 1) * channels(shape), r),
    s: fill(seqs * shape.nVHeads * shape.dK * shape.dV, () => 0.05 * r()),
  };
}

/** Rows [t0, t0 + n) of every input. */
export function sliceInputs(shape: DeltaNetShape, inp: DeltaNetInputs, t0: number, n: number): DeltaNetInputs {
  const ch = channels(shape), vd = shape.nVHeads * shape.dV, nv = shape.nVHeads;
  return {
    qkv: inp.qkv.slice(t0 * ch, (t0 + n) * ch),
    z: inp.z.slice(t0 * vd, (t0 + n) * vd),
    a: inp.a.slice(t0 * nv, (t0 + n) * nv),
    b: inp.b.slice(t0 * nv, (t0 + n) * nv),
  };
}

export interface BlockResult {
  out: Float32Array | Float64Array;
  conv: Float32Array | Float64Array;
  s: Float32Array | Float64Array;
}

export interface NativeRun extends BlockResult {
  seconds: number;
  cpuSeconds: number;
  allocations: number;
}

/** The native block over sequences of `seqLens` tokens (rows in order) with their states. */
export function runNative(shape: DeltaNetShape, w: DeltaNetWeights, inp: DeltaNetInputs, seqLens: number[],
  state: { conv: Float32Array; s: Float32Array }, opts: { level?: string; mode?: Mode; threads?: number; reps?: number } = {}): NativeRun {
  const r = nativeBinding().deltaNetTest({
    level: opts.level ?? 'auto', mode: opts.mode ?? 'auto', threads: opts.threads ?? 2, reps: opts.reps ?? 1,
    ...shape, ...w, ...inp, seqLens: Int32Array.from(seqLens), convState: state.conv, state: state.s,
  });
  return { out: r.out, conv: r.convState, s: r.state, seconds: r.seconds, cpuSeconds: r.cpuSeconds, allocations: r.allocations };
}

/** The float64 reference over the same batch. */
export function runReference(shape: DeltaNetShape, w: DeltaNetWeights, inp: DeltaNetInputs, seqLens: number[],
  state: { conv: Float32Array; s: Float32Array }, mapping: HeadMapping = 'interleave'): BlockResult {
  const cs = (shape.convKernel - 1) * channels(shape), ss = shape.nVHeads * shape.dK * shape.dV, vd = shape.nVHeads * shape.dV;
  const conv = Float64Array.from(state.conv), s = Float64Array.from(state.s);
  const total = seqLens.reduce((x, y) => x + y, 0), out = new Float64Array(total * vd);
  let t0 = 0;
  seqLens.forEach((n, i) => {
    const st = { conv: conv.subarray(i * cs, (i + 1) * cs), s: s.subarray(i * ss, (i + 1) * ss) };
    out.set(deltaNetReference(shape, w, inp, t0, n, st, mapping), t0 * vd);
    t0 += n;
  });
  return { out, conv, s };
}

/** max |a - b| / max |b|: error relative to the reference's scale. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

/** Worst relErr over output, conv state and delta state. */
export function blockErr(a: BlockResult, b: BlockResult): number {
  return Math.max(relErr(a.out, b.out), relErr(a.conv, b.conv), relErr(a.s, b.s));
}
