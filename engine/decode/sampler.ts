/**
 * Next-token sampling over a full-vocabulary logits row. Order (as Hugging Face / vLLM): allowed-token mask →
 * repetition / presence / frequency penalties over the last `penaltyLastN` tokens → greedy if temperature 0,
 * else temperature → top-k → top-p → min-p → draw from the renormalised remainder with the sampler's PRNG.
 * The passes over the whole row run natively (engine/native/sampling.cpp): no full sort of the vocabulary, a
 * k-heap for top-k, weight buckets for top-p alone.
 */
import { EngineArgumentError, EngineError } from '../errors.js';
import { nativeBinding } from '../native-binding.js';
import { biasAndPenalise } from './penalties.js';
import { Rng } from './rng.js';

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

/** A vocabulary-sized work row per sampler: the logits, biased and penalised, then masked and weighted natively. */
type SampleScratch = Float32Array;

/**
 * Samples one token from `logits` (one row, vocabulary-sized) with `params`; appends it to `state.recent`.
 * Bias and penalties apply here, to a copy; the whole-row passes (mask, argmax, exp, top-k/top-p/min-p) run
 * natively (engine/native/sampling.cpp). Draws one number from `state.rng` unless greedy.
 * Throws NoAllowedTokenError if the mask allows nothing, EngineArgumentError for bad parameters.
 */
export function sample(logits: Float32Array, params: SamplingParams, state: SamplerState, opts: SampleOptions = {}, scratch?: SampleScratch): number {
  checkParams(params);
  const V = logits.length;
  if (opts.mask && opts.mask.length < Math.ceil(V / 32)) throw new EngineArgumentError(`sampling: mask has ${opts.mask.length} words, vocabulary of ${V} needs ${Math.ceil(V / 32)}`);
  const work = scratch?.length === V ? scratch : new Float32Array(V);
  work.set(logits);
  biasAndPenalise(work, (t) => (t < V ? t : -1), params, state.recent); // the mask, applied after, keeps masked tokens out
  const t = params.temperature ?? 1;
  const u = t > 0 ? state.rng.next() : 0;
  const token = nativeBinding().sampleRow(work, opts.mask ?? null, t, params.topK ?? 0, params.topP ?? 1, params.minP ?? 0, u);
  if (token === -2) throw new NoAllowedTokenError('sampling: the allowed-token mask allows no token');
  if (token < 0) throw new NoAllowedTokenError('sampling: no token has a finite logit');
  state.recent.push(token);
  const keep = params.penaltyLastN ?? 64;
  if (keep >= 0 && state.recent.length > 2 * keep + 1024) state.recent.splice(0, state.recent.length - keep);
  return token;
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
    if (this.scratch?.length !== logits.length) this.scratch = new Float32Array(logits.length);
    return sample(logits, this.params, this.state, opts, this.scratch);
  }
}
