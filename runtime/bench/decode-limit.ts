/**
 * Decode against the machine's memory read rate, measured side by side: on a shared machine the read rate moves
 * within a minute, so a probe taken before a whole decode run compares two different moments. Each of `segments`
 * rounds probes the read rate (best of 2 passes over `probeMib` MiB, the threads decode uses) and then decodes
 * `tokens` tokens of one session after a `prompt`-token prompt; per round, tok/s ÷ (probe ÷ bytes per token) is the
 * share of the limit (bytes per token as decode-bytes.ts counts them: weights at the file's bytes per value, plus
 * K/V at the round's depth). Used by `resident bench` and bench/decode-limit.ts.
 */
import type { Engine } from '../../engine/engine-api.js';
import type { ModelSpec, TensorDType } from '../../engine/model/model-spec.js';
import { memoryReadRate } from '../../engine/native.js';
import { decodeBytesPerToken, matrixValueBytes } from './decode-bytes.js';

export interface DecodeLimitOptions {
  segments: number;
  tokens: number;
  prompt: number;
  probeMib: number;
  threads: number;
  /** Bytes per matrix value (default: the file's, matrixValueBytes). */
  valueBytes?: number;
}

export interface DecodeLimitRound {
  probeGBs: number;
  gbPerToken: number;
  tokS: number;
  share: number;
}

/** The rounds (each reported to `onRound` as it ends), their median share of the limit and its range. */
export async function decodeLimitRounds(engine: Engine, spec: ModelSpec<TensorDType>, o: DecodeLimitOptions, onRound?: (r: DecodeLimitRound, i: number) => void): Promise<{ rounds: DecodeLimitRound[]; shareMedian: number; shareRange: [number, number] }> {
  const slot = engine.createSlot(o.prompt + o.segments * o.tokens + 8);
  const valueBytes = o.valueBytes ?? matrixValueBytes(spec);
  try {
    await engine.forward([{ slot, tokens: Array.from({ length: o.prompt }, (_, i) => (i * 7919) % 5000 + 10), logits: 'last' }]);
    const rounds: DecodeLimitRound[] = [];
    let depth = o.prompt, tok = 11;
    for (let s = 0; s < o.segments; s++) {
      const probeGBs = await memoryReadRate(o.probeMib, o.threads, 2);
      const gb = decodeBytesPerToken(spec.config, valueBytes, slot.bytesPerToken, depth + o.tokens / 2) / 1e9;
      const t0 = performance.now();
      for (let i = 0; i < o.tokens; i++, depth++) {
        await engine.forward([{ slot, tokens: [tok], logits: 'last' }]);
        tok = (tok * 7919 + i) % 5000 + 10;
      }
      const tokS = o.tokens / ((performance.now() - t0) / 1000);
      const r = { probeGBs: +probeGBs.toFixed(1), gbPerToken: +gb.toFixed(4), tokS: +tokS.toFixed(1), share: +((tokS * gb) / probeGBs).toFixed(3) };
      rounds.push(r);
      onRound?.(r, s);
    }
    const shares = rounds.map((r) => r.share).sort((x, y) => x - y);
    return { rounds, shareMedian: shares[shares.length >> 1]!, shareRange: [shares[0]!, shares[shares.length - 1]!] };
  } finally {
    slot.dispose();
  }
}
