/**
 * Accuracy cost of a weight mode: next-token distributions of a reference and a quantized model on the
 * same tokens (ours: native vs int8 engine; llama.cpp: its BF16 vs Q8_0 GGUF), compared position by position.
 */
import { argmax, logSoftmax } from '../../engine/decode/logit-math.js';
import type { Engine } from '../../engine/engine-api.js';

/** Mean KL(reference ‖ other) in nats per position and the fraction of positions whose top-1 token agrees. */
export interface AccuracyFigures {
  kl: number;
  top1: number;
  positions: number;
}

/** Next-token log-probs of every position: [positions][vocab], float64. */
export type LogProbs = Float64Array[];

/** Log-probs of every position of `tokens` from our engine (one forward, all logits). */
export async function engineLogProbs(e: Engine, tokens: number[]): Promise<LogProbs> {
  const slot = e.createSlot(tokens.length);
  try {
    const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
    const V = e.config.vocabSize;
    return tokens.map((_, r) => logSoftmax(out!.data.subarray(r * V, (r + 1) * V)));
  } finally {
    slot.dispose();
  }
}

/** Compares two models' log-probs over the same positions. */
export function compareLogProbs(reference: LogProbs, other: LogProbs): AccuracyFigures {
  let kl = 0, same = 0;
  for (let r = 0; r < reference.length; r++) {
    const p = reference[r]!, q = other[r]!;
    for (let i = 0; i < p.length; i++) if (p[i]! > -700) kl += Math.exp(p[i]!) * (p[i]! - Math.max(q[i]!, -700));
    if (argmax(p) === argmax(q)) same++;
  }
  return { kl: kl / reference.length, top1: same / reference.length, positions: reference.length };
}
