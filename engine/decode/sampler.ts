/**
 * Next-token sampling over a full-vocabulary logits row. Order (as Hugging Face / vLLM): allowed-token mask →
 * repetition / presence / frequency penalties over the last `penaltyLastN` tokens → greedy if temperature 0,
 * else temperature → top-k → top-p → min-p → draw from the renormalised remainder with the sampler's PRNG.
 * No full sort of the vocabulary: top-k uses a k-heap; top-p alone buckets the weights and sorts only the boundary bucket.
 */
import { EngineArgumentError, EngineError } from '../errors.js';
import { argmax } from './logit-math.js';
import { selectTop } from './top-k.js';

export { logSoftmaxTopK } from './top-k.js';

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

/** xoshiro128** seeded through splitmix32: fast, reproducible 32-bit PRNG. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed = 0) {
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b1);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = z ^ (z >>> 16);
    }
    if (!this.s.some((v) => v !== 0)) this.s[0] = 1;
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }
  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }
}
const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

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
  for (const [t, b] of p.logitBias ?? []) if (t < V && work[t] !== -Infinity) work[t] += b;
  const rep = p.repetitionPenalty ?? 1;
  const pres = p.presencePenalty ?? 0;
  const freq = p.frequencyPenalty ?? 0;
  const lastN = p.penaltyLastN ?? 64;
  if ((rep === 1 && pres === 0 && freq === 0) || lastN === 0 || recent.length === 0) return;
  const from = lastN < 0 ? 0 : Math.max(0, recent.length - lastN);
  const counts = new Map<number, number>();
  for (let i = from; i < recent.length; i++) {
    const t = recent[i]!;
    if (t >= 0 && t < V) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [t, c] of counts) {
    let l = work[t]!;
    if (l === -Infinity) continue;
    if (rep !== 1) l = l > 0 ? l / rep : l * rep;
    work[t] = l - pres - freq * c;
  }
}

/**
 * Samples one token from `logits` (one row, vocabulary-sized) with `params`; appends it to `state.recent`.
 * Throws NoAllowedTokenError if the mask allows nothing, EngineArgumentError for bad parameters.
 */
export function sample(
  logits: Float32Array,
  params: SamplingParams,
  state: SamplerState,
  opts: SampleOptions = {},
  scratch: { work: Float32Array; weights: Float64Array } = { work: new Float32Array(logits.length), weights: new Float64Array(logits.length) },
): number {
  checkParams(params);
  let token: number;
  const allowed = opts.mask ? countAllowed(opts.mask, logits.length) : logits.length;
  if (opts.mask && allowed <= logits.length * SPARSE_SHARE) {
    token = chooseSparse(logits, opts.mask, allowed, params, state, scratch.weights);
  } else {
    prepare(logits, scratch.work, params, state.recent, opts.mask);
    token = choose(scratch.work, params, state.rng, scratch.weights);
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
 * Top-p over the full vocabulary without sorting it: bucket tokens by (max − l)/T, take whole buckets from the top
 * while the mass stays below p·Z, and sort only the boundary bucket. Returns the nucleus (unordered but for the tail).
 */
function nucleus(v: Float32Array, w: Float64Array, z: number, max: number, t: number, topP: number): number[] {
  const V = v.length;
  const mass = new Float64Array(NUCLEUS_BUCKETS);
  const bucket = new Uint16Array(V);
  const scale = NUCLEUS_BUCKETS / NUCLEUS_RANGE;
  for (let i = 0; i < V; i++) {
    if (w[i] === 0) continue;
    const b = Math.min(NUCLEUS_BUCKETS - 1, Math.floor(((max - v[i]!) / t) * scale));
    bucket[i] = b;
    mass[b] += w[i]!;
  }
  const target = topP * z;
  let cum = 0;
  let edge = 0;
  while (edge < NUCLEUS_BUCKETS - 1 && cum + mass[edge]! < target) cum += mass[edge++]!;
  const out: number[] = [];
  const tail: number[] = [];
  for (let i = 0; i < V; i++) {
    if (w[i] === 0) continue;
    if (bucket[i]! < edge) out.push(i);
    else if (bucket[i] === edge) tail.push(i);
  }
  tail.sort((a, b) => v[b]! - v[a]! || a - b);
  for (const i of tail) {
    if (cum >= target && out.length > 0) break;
    out.push(i);
    cum += w[i]!;
  }
  return out;
}

function choose(v: Float32Array, p: SamplingParams, rng: Rng, w: Float64Array): number {
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

  // weights below e^-40 of the maximum's (which is 1) are dropped: all of them together weigh < 1e-12
  const cut = max - 40 * t;
  let z = 0;
  for (let i = 0; i < V; i++) z += w[i] = v[i]! > cut ? Math.exp((v[i]! - max) / t) : 0;
  if (topP < 1) {
    let ids = nucleus(v, w, z, max, t, topP);
    if (minP > 0) ids = ids.filter((i) => w[i]! >= minP);
    return draw(ids, (k) => w[ids[k]!]!, ids.length, rng);
  }
  if (minP > 0) {
    z = 0;
    for (let i = 0; i < V; i++) if (w[i]! < minP) w[i] = 0;
    for (let i = 0; i < V; i++) z += w[i]!;
  }
  let r = rng.next() * z;
  for (let i = 0; i < V; i++) if (w[i]! > 0 && (r -= w[i]!) < 0) return i;
  return top;
}

/** A mask allowing at most this share of the vocabulary is sampled over its allowed ids only. */
const SPARSE_SHARE = 1 / 8;

/** Allowed ids of a mask within the vocabulary; throws when the mask is too short or allows none. */
function countAllowed(mask: Uint32Array, V: number): number {
  const words = Math.ceil(V / 32);
  if (mask.length < words) throw new EngineArgumentError(`sampling: mask has ${mask.length} words, vocabulary of ${V} needs ${words}`);
  let n = 0;
  for (let i = 0; i < words; i++) {
    let x = mask[i]!;
    if (i === words - 1 && V % 32) x &= (1 << V % 32) - 1;
    x = x - ((x >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    n += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  }
  if (n === 0) throw new NoAllowedTokenError('sampling: the allowed-token mask allows no token');
  return n;
}

/**
 * `choose` over the allowed ids of a sparse mask only (no pass over the vocabulary): their logits gathered in
 * ascending id order, logit bias and penalties applied to them as `prepare` would. The same token for the same
 * PRNG state as the dense pass (ties, sums and draws run in the same order over the same finite entries).
 */
function chooseSparse(logits: Float32Array, mask: Uint32Array, n: number, p: SamplingParams, state: SamplerState, w: Float64Array): number {
  const V = logits.length;
  const ids = new Int32Array(n);
  let k = 0;
  for (let i = 0, words = Math.ceil(V / 32); i < words; i++) {
    let bits = mask[i]!;
    while (bits) {
      const b = 31 - Math.clz32(bits);
      bits &= ~(1 << b);
      const id = i * 32 + b;
      if (id < V) ids[k++] = id;
    }
  }
  const order = ids.subarray(0, k).sort(); // bits were taken high to low within a word
  const vals = new Float32Array(k);
  for (let j = 0; j < k; j++) vals[j] = logits[order[j]!]!;
  const at = (t: number) => {
    let lo = 0;
    let hi = k - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid]! === t) return mid;
      if (order[mid]! < t) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  for (const [t, b] of p.logitBias ?? []) {
    const j = t < V ? at(t) : -1;
    if (j >= 0 && vals[j] !== -Infinity) vals[j] += b;
  }
  const rep = p.repetitionPenalty ?? 1;
  const pres = p.presencePenalty ?? 0;
  const freq = p.frequencyPenalty ?? 0;
  const lastN = p.penaltyLastN ?? 64;
  const recent = state.recent;
  if (!((rep === 1 && pres === 0 && freq === 0) || lastN === 0 || recent.length === 0)) {
    const counts = new Map<number, number>();
    for (let i = lastN < 0 ? 0 : Math.max(0, recent.length - lastN); i < recent.length; i++) {
      const t = recent[i]!;
      if (t >= 0 && t < V) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const [t, c] of counts) {
      const j = at(t);
      if (j < 0) continue;
      let l = vals[j]!;
      if (l === -Infinity) continue;
      if (rep !== 1) l = l > 0 ? l / rep : l * rep;
      vals[j] = l - pres - freq * c;
    }
  }
  const c = choose(vals, p, state.rng, w);
  return c < 0 ? -1 : order[c]!;
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
  private scratch: { work: Float32Array; weights: Float64Array } | undefined;
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
      this.scratch = { work: new Float32Array(logits.length), weights: new Float64Array(logits.length) };
    }
    return sample(logits, this.params, this.state, opts, this.scratch);
  }
}
