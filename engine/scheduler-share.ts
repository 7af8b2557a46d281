/**
 * How many prefill tokens a step may carry while other sequences decode, from measured step times: the step
 * should take at most `factor` × a decode-only step, so decoding streams see their inter-token latency grow
 * by at most that factor while a long prompt is prefilled in chunks between their tokens.
 *   chunk = (factor − 1) × decodeStepMs(d) / prefillMsPerToken, within [minChunk, budget], for a step of d decodes.
 * Both estimates are medians of the recent steps (step times are noisy upwards: a preempted thread, a pause
 * of the event loop; a mean would follow the spikes); before any measurement the chunk is the whole budget.
 * decodeStepMs(d) reads each recent decode-only step of e decodes as ms · min(1, d / e): a step of more decodes
 * than now counts only its share (a phase of 32 streams must not size the chunk of a step with 7), one of fewer
 * counts whole (step time grows with decodes, so both err short: the chunk errs small).
 */
export interface PrefillShareOptions {
  /** Longest step with prefill, relative to a decode-only step (default 1.5). */
  factor?: number;
  /** Smallest chunk, so a prefill always progresses (default 1: deep in a long prompt one token may cost a decode step). */
  minChunk?: number;
}

/** Steps each median looks back on. */
const WINDOW = 31;

/** The median of the last WINDOW values pushed. */
class RecentMedian {
  private xs: number[] = [];
  private sorted: number[] | null = null;

  push(x: number): void {
    this.xs.push(x);
    if (this.xs.length > WINDOW) this.xs.shift();
    this.sorted = null;
  }

  get value(): number {
    if (!this.xs.length) return NaN;
    this.sorted ??= [...this.xs].sort((a, b) => a - b);
    return this.sorted[this.sorted.length >> 1]!;
  }
}

/** Recent decode-only steps (ms, decodes); the median time of a step of d decodes as described above. */
class DecodeSteps {
  private xs: { ms: number; decodes: number }[] = [];

  push(ms: number, decodes: number): void {
    this.xs.push({ ms, decodes });
    if (this.xs.length > WINDOW) this.xs.shift();
  }

  at(d: number): number {
    if (!this.xs.length) return NaN;
    const v = this.xs.map((x) => x.ms * Math.min(1, d / x.decodes)).sort((a, b) => a - b);
    return v[v.length >> 1]!;
  }
}

export class PrefillShare {
  private decodeMs = new DecodeSteps();
  private perToken = new RecentMedian();
  private readonly factor: number;
  private readonly minChunk: number;

  constructor(o: PrefillShareOptions = {}) {
    this.factor = o.factor ?? 1.5;
    this.minChunk = o.minChunk ?? 1;
    if (!(this.factor > 1)) throw new RangeError(`prefill share factor must be > 1, got ${this.factor}`);
  }

  /** Records a step: `ms` of wall time, `decodes` one-token entries and `prefillTokens` other tokens. */
  observe(ms: number, decodes: number, prefillTokens: number): void {
    if (prefillTokens === 0) {
      if (decodes > 0) this.decodeMs.push(ms, decodes);
      return;
    }
    const decodeMs = decodes > 0 ? this.decodeMs.at(decodes) : 0;
    this.perToken.push(Math.max(1e-3, ms - (Number.isNaN(decodeMs) ? 0 : decodeMs)) / prefillTokens);
  }

  /** The prefill tokens of a step with `decodes` decodes (≥ 1), within [minChunk, budget]. */
  chunk(budget: number, decodes: number): number {
    const decodeMs = this.decodeMs.at(Math.max(1, decodes));
    const perToken = this.perToken.value;
    if (Number.isNaN(decodeMs) || Number.isNaN(perToken)) return budget;
    const n = Math.floor(((this.factor - 1) * decodeMs) / perToken);
    return Math.max(Math.min(this.minChunk, budget), Math.min(budget, n));
  }
}
