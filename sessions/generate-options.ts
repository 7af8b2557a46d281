/** Generation parameters of a session and the stop logic built from them. */
import { SessionArgumentError } from './errors.js';

export interface GenerateOptions {
  /** Largest number of tokens to generate (default 256). */
  maxTokens?: number;
  /** Picks a token from a logits row; default greedy (argmax). The sampler from engine/ plugs in here. */
  sample?: (logits: Float32Array, step: number) => number;
  /** Mask preparation for the next step, run while the forward computes (see Scheduler). */
  prepare?: (step: number) => Promise<void> | void;
  /** Token ids that end generation (kept in the session); default the model's EOS ids. */
  stopTokens?: number[];
  /** Strings that end generation once the generated text contains one (needs a detokenizer). */
  stop?: string[];
  /** Receives each token once it is durable in the journal (streaming). */
  onToken?: (token: number) => void;
  signal?: AbortSignal;
  priority?: number;
}

export interface GenerateOutcome {
  tokens: number[];
  finish: 'length' | 'stop' | 'aborted';
  /** Generated text when the store has a detokenizer. */
  text?: string;
}

/**
 * Returns a predicate "stop after this token?" over the growing list of generated tokens.
 * Stop strings are checked on the decoded tail (window wide enough for the longest stop string).
 */
export function stopChecker(
  o: GenerateOptions,
  eos: number[],
  detokenize?: (tokens: number[]) => string,
): (generated: number[]) => boolean {
  const stopTokens = new Set(o.stopTokens ?? eos);
  const stops = (o.stop ?? []).filter((s) => s.length > 0);
  if (stops.length && !detokenize) throw new SessionArgumentError('stop strings need a store opened with a detokenizer');
  const window = Math.max(0, ...stops.map((s) => s.length)) + 8;
  return (gen) => {
    if (stopTokens.has(gen[gen.length - 1]!)) return true;
    if (!stops.length) return false;
    const text = detokenize!(gen.slice(-window));
    return stops.some((s) => text.includes(s));
  };
}
