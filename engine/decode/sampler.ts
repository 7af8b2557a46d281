/**
 * Next-token sampling over a full-vocabulary logits row. Order (as Hugging Face / vLLM): allowed-token mask →
 * repetition / presence / frequency penalties over the last `penaltyLastN` tokens → greedy if temperature 0,
 * else temperature → top-k → top-p → min-p → draw from the renormalised remainder with the sampler's PRNG.
 * No full sort of the vocabulary: top-k uses a k-heap; top-p alone buckets the weights and sorts only the boundary bucket.
 */
import { EngineArgumentError, EngineError } from '../errors.js';
import { argmax } from './logit-math.js';
import { biasAndPenalise } from './penalties.js';
import { Rng } from './rng.js';
import { countAllowed, gatherAllowed, SPARSE_SHARE } from './sparse-mask.js';
import { selectTop } from './top-k.js';

export { logSoftmaxTopK } from './top-k.js';
export { Rng } from './rng.js';

/** The mask allowed no token (after intersecting with the vocabulary). */
export class NoAllowedTokenError extends EngineError {
  override name = 'NoAllowedTokenError';
  override code = 'no_allowed_token';
  override status = 500;
}

/** Sampling parameters; every field is optional and defaults to "off" (temperature defaults to 1). */
export interface SamplingParams {
  /** 0 = greedy (argmax, lowest id on ties). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP; 1 = off. */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top probability; 0 = off. */
  minP?: number;
  /** CTRL-style: a penalised logit l becomes l / r if l > 0, else l × r; 1 = off. */
  repetitionPenalty?: number;
  /** OpenAI-style: subtract once from every token present in the window; 0 = off. */
  presencePenalty?: number;
  /** OpenAI-style: subtract × count of the token in the window; 0 = off. */
  frequencyPenalty?: number;
  /** How many of the most recent tokens the penalties look at (default 64; -1 = all kept). */
  penaltyLastN?: number;
  /** PRNG seed (default 0). */
  seed?: number;
  /** OpenAI `logit_bias`: added to a token's logit after the mask (a masked token stays masked). Values in [−100, 100]. */
  logitBias?: ReadonlyMap<number, number>;
}

/** Per-sequence sampling state: PRNG and the recent tokens that penalties look at. */
export interface SamplerState {
  rng: Rng;
  recent: number[];
}

/** Options of one sample call. */
export interface SampleOptions {
  /** Bitset over the vocabulary (bit i of word i>>5 set = token i allowed); applied before everything else. */
  mask?: Uint32Array;
}

/** A fresh state for `sample`. */
export function createSamplerState(seed = 0): SamplerState {
  return { rng: new Rng(seed), recent: [] };
}

function checkParams(p: SamplingParams): void {
  const bad = (what: string) => {
    throw new EngineArgumentError(`sampling: ${what}`);
  };
  const t = p.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) bad(`temperature must be ≥ 0, got ${p.temperature}`);
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 0)) bad(`topK must be an integer ≥ 0, got ${p.topK}`);
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) bad(`topP must be in (0, 1], got ${p.topP}`);
  if (p.minP !== undefined && !(p.minP >= 0 && p.minP <= 1)) bad(`minP must be in [0, 1], got ${p.minP}`);
  if (p.repetitionPenalty !== undefined && !(p.repetitionPenalty > 0 && Number.isFinite(p.repetitionPenalty))) bad(`repetitionPenalty must be > 0, got ${p.repetitionPenalty}`);
  for (const k of ['presencePenalty', 'frequencyPenalty'] as const) if (p[k] !== undefined && !Number.isFinite(p[k])) bad(`${k} must be finite, got ${p[k]}`);
  if (p.penaltyLastN !== undefined && !(Number.isInteger(p.penaltyLastN) && p.penaltyLastN >= -1)) bad(`penaltyLastN must be an integer ≥ -1, got ${p.penaltyLastN}`);
  for (const [t, b] of p.logitBias ?? []) {
    if (!(Number.isInteger(t) && t >= 0)) bad(`logitBias token ids must be integers ≥ 0, got ${t}`);
    if (!(b >= -100 && b <= 100)) bad(`logitBias values must be in [-100, 100], got ${b} for token ${t}`);
  }
}

/** Copies logits into `work`, sets disallowed tokens to −∞ and applies the penalties. */
function prepare(logits: Float32Array, work: Float32Array, p: SamplingParams, recent: readonly number[], mask?: Uint32Array): void {
  const V = logits.length;
  work.set(logits);
  if (mask) {
    const words = Math.ceil(V / 32);
    if (mask.length < words) throw new EngineArgumentError(`sampling: mask has ${mask.length} words, vocabulary of ${V} needs ${words}`);
    let any = false;
    for (let w = 0; w < words; w++) {
      const bits = mask[w]!;
      if (bits === 0xffffffff) {
        any = true;
        continue;
      }
      const base = w * 32;
      const end = Math.min(32, V - base);
      for (let b = 0; b < end; b++) {
        if (bits & (1 << b)) any = true;
        else work[base + b] = -Infinity;
      }
    }
    if (!any) throw new NoAllowedTokenError('sampling: the allowed-token mask allows no token');
  }
  biasAndPenalise(work, (t) => (t < V ? t : -1), p, recent);
}

/** Vocabulary-sized work rows of one sampler: the prepared logits, their weights, the ids above the cut. */
interface SampleScratch {
  work: Float32Array;
  weights: Float64Array;
  ids: Int32Array;
}

const newScratch = (V: number): SampleScratch => ({ work: new Float32Array(V), weights: new Float64Array(V), ids: new Int32Array(V) });

/**
 * Samples one token from `logits` (one row, vocabulary-sized) with `params`; appends it to `state.recent`.
 * Throws NoAllowedTokenError if the mask allows nothing, EngineArgumentError for bad parameters.
 */
export function sample(
  logits: Float32Array,
  params: SamplingParams,
  state: SamplerState,
  opts: SampleOptions = {},
  scratch: SampleScratch = newScratch(logits.length),
): number {
  checkParams(params);
  let token: number;
  const allowed = opts.mask ? countAllowed(opts.mask, logits.length) : logits.length;
  if (opts.mask && allowed <= logits.length * SPARSE_SHARE) {
    const { ids, vals, indexOf } = gatherAllowed(logits, opts.mask, allowed);
    biasAndPenalise(vals, indexOf, params, state.recent);
    const c = choose(vals, params, state.rng, scratch.weights, scratch.ids);
    token = c < 0 ? -1 : ids[c]!;
  } else {
    prepare(logits, scratch.work, params, state.recent, opts.mask);
    token = choose(scratch.work, params, state.rng, scratch.weights, scratch.ids);
  }
  if (token < 0) throw new NoAllowedTokenError('sampling: no token has a finite logit');
  state.recent.push(token);
  const keep = params.penaltyLastN ?? 64;
  if (keep >= 0 && state.recent.length > 2 * keep + 1024) state.recent.splice(0, state.recent.length - keep);
  return token;
}

const NUCLEUS_BUCKETS = 2048;
/** Buckets cover weights down to exp(−NUCLEUS_RANGE); lighter tokens share the last bucket. */
const NUCLEUS_RANGE = 40;

/**
 * Top-p over the candidates `ids[0..n)` (ascending, weights `w[id]` > 0) without sorting them: bucket by
 * (max − l)/T, take whole buckets from the top while the mass stays below p·Z, and sort only the boundary bucket.
 * Returns the nucleus (unordered but for the tail).
 */
function nucleus(v: Float32Array, w: Float64Array, ids: Int32Array, n: number, z: number, max: number, t: number, topP: number): number[] {
  const mass = new Float64Array(NUCLEUS_BUCKETS);
  const bucket = new Uint16Array(n);
  const scale = NUCLEUS_BUCKETS / NUCLEUS_RANGE;
  for (let k = 0; k < n; k++) {
    const i = ids[k]!;
    const b = Math.min(NUCLEUS_BUCKETS - 1, Math.floor(((max - v[i]!) / t) * scale));
    bucket[k] = b;
    mass[b] += w[i]!;
  }
  const target = topP * z;
  let cum = 0;
  let edge = 0;
  while (edge < NUCLEUS_BUCKETS - 1 && cum + mass[edge]! < target) cum += mass[edge++]!;
  const out: number[] = [];
  const tail: number[] = [];
  for (let k = 0; k < n; k++) {
    if (bucket[k]! < edge) out.push(ids[k]!);
    else if (bucket[k] === edge) tail.push(ids[k]!);
  }
  tail.sort((a, b) => v[b]! - v[a]! || a - b);
  for (const i of tail) {
    if (cum >= target && out.length > 0) break;
    out.push(i);
    cum += w[i]!;
  }
  return out;
}

function choose(v: Float32Array, p: SamplingParams, rng: Rng, w: Float64Array, ids: Int32Array): number {
  const t = p.temperature ?? 1;
  const top = argmax(v);
  if (!(v[top]! > -Infinity)) return -1; // no finite logit
  if (t === 0) return top;
  const V = v.length;
  const topK = p.topK && p.topK > 0 ? Math.min(p.topK, V) : 0;
  const topP = p.topP ?? 1;
  const minP = p.minP ?? 0;
  const max = v[top]!;

  if (topK > 0) {
    const cand = selectTop(v, topK);
    let n = cand.ids.length;
    const probs = Array.from(cand.vals, (x) => Math.exp((x - max) / t));
    if (topP < 1) {
      const total = probs.reduce((a, b) => a + b, 0); // top-p on the renormalised top-k distribution
      let cum = 0;
      let m = 0;
      while (m < n) {
        cum += probs[m++]!;
        if (cum >= topP * total) break;
      }
      n = m;
    }
    if (minP > 0) {
      let m = 1;
      while (m < n && probs[m]! >= minP) m++; // probs[0] = 1 (the maximum)
      n = m;
    }
    return draw(cand.ids, (i) => probs[i]!, n, rng);
  }

  // weights below e^-40 of the maximum's (which is 1) are dropped: all of them together weigh < 1e-12; the others'
  // ids, ascending, go to `ids` (every later pass reads only them; sums run in the same order as over the whole row)
  const cut = max - 40 * t;
  let z = 0;
  let n = 0;
  for (let i = 0; i < V; i++) {
    const x = v[i]!;
    if (x > cut) {
      const e = Math.exp((x - max) / t);
      w[i] = e;
      z += e;
      ids[n++] = i;
    }
  }
  if (topP < 1) {
    let nu = nucleus(v, w, ids, n, z, max, t, topP);
    if (minP > 0) nu = nu.filter((i) => w[i]! >= minP);
    return draw(nu, (k) => w[nu[k]!]!, nu.length, rng);
  }
  if (minP > 0) {
    z = 0;
    for (let k = 0; k < n; k++) if (w[ids[k]!]! < minP) w[ids[k]!] = 0;
    for (let k = 0; k < n; k++) z += w[ids[k]!]!;
  }
  let r = rng.next() * z;
  for (let k = 0; k < n; k++) {
    const i = ids[k]!;
    if (w[i]! > 0 && (r -= w[i]!) < 0) return i;
  }
  return top;
}

/** Draws index k < n with probability ∝ weight(k); returns ids[k]. */
function draw(ids: ArrayLike<number>, weight: (k: number) => number, n: number, rng: Rng): number {
  let z = 0;
  for (let k = 0; k < n; k++) z += weight(k);
  let r = rng.next() * z;
  for (let k = 0; k < n; k++) if ((r -= weight(k)) < 0) return ids[k]!;
  return ids[0]!;
}

/** A seeded sampler for one sequence: parameters, its own PRNG and its recent-token window. */
export class Sampler {
  readonly state: SamplerState;
  private scratch: SampleScratch | undefined;
  constructor(readonly params: SamplingParams = {}) {
    checkParams(params);
    this.state = createSamplerState(params.seed ?? 0);
  }
  /** Records tokens (e.g. the prompt) for the penalties without sampling. */
  accept(tokens: Iterable<number>): void {
    for (const t of tokens) this.state.recent.push(t);
  }
  /** Samples the next token and records it. */
  sample(logits: Float32Array, opts: SampleOptions = {}): number {
    if (this.scratch?.work.length !== logits.length) {
      this.scratch = newScratch(logits.length);
    }
    return sample(logits, this.params, this.state, opts, this.scratch);
  }
}
