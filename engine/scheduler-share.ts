/**
 * How many prefill tokens a step may carry while other sequences decode, from measured step times: the step
 * should take at most `factor` × a decode-only step, so decoding streams see their inter-token latency grow
 * by at most that factor while a long prompt is prefilled in chunks between their tokens.
 *   chunk = (factor − 1) × decodeStepMs / prefillMsPerToken, within [minChunk, budget].
 * Estimates are exponential moving averages; before any measurement the chunk is the whole budget.
 */
export interface PrefillShareOptions {
  /** Longest step with prefill, relative to a decode-only step (default 2). */
  factor?: number;
  /** Smallest chunk, so a prefill always progresses (default 1: deep in a long prompt one token may cost a decode step). */
  minChunk?: number;
}

export class PrefillShare {
  private decodeMs = NaN;
  private perToken = NaN;
  private readonly factor: number;
  private readonly minChunk: number;

  constructor(o: PrefillShareOptions = {}) {
    this.factor = o.factor ?? 2;
    this.minChunk = o.minChunk ?? 1;
    if (!(this.factor > 1)) throw new RangeError(`prefill share factor must be > 1, got ${this.factor}`);
  }

  /** Records a step: `ms` of wall time, `decodes` one-token entries and `prefillTokens` other tokens. */
  observe(ms: number, decodes: number, prefillTokens: number): void {
    const ema = (old: number, x: number) => (Number.isNaN(old) ? x : old + 0.2 * (x - old));
    if (prefillTokens === 0) {
      if (decodes > 0) this.decodeMs = ema(this.decodeMs, ms);
      return;
    }
    const base = decodes > 0 && !Number.isNaN(this.decodeMs) ? this.decodeMs : 0;
    this.perToken = ema(this.perToken, Math.max(1e-3, ms - base) / prefillTokens);
  }

  /** The prefill tokens of a step with decodes, within [minChunk, budget]. */
  chunk(budget: number): number {
    if (Number.isNaN(this.decodeMs) || Number.isNaN(this.perToken)) return budget;
    const n = Math.floor(((this.factor - 1) * this.decodeMs) / this.perToken);
    return Math.max(Math.min(this.minChunk, budget), Math.min(budget, n));
  }
}
