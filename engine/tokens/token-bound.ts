/**
 * A lower bound on the number of tokens a text encodes to, computed in one linear pass without BPE,
 * so an oversized prompt is refused before the (slow) merge loop runs on it. Every token is a
 * substring of the text, so:
 * - every token covers at most `longest` units (the longest vocabulary token; units are bytes for
 *   byte-level BPE, UTF-16 code units otherwise): ⌈units / longest⌉;
 * - with byte-level BPE, a run of L copies of one ASCII byte b needs ⌈(L − 2·longest) / r_b⌉ tokens
 *   lying wholly inside it (r_b = longest token made only of b; tokens crossing the run's ends cover
 *   at most `longest` bytes of it on either side), and tokens inside distinct runs are distinct.
 */
import { BYTE_CHAR } from './byte-char.js';
import { runToEnd, Slicer, type SlicedWork } from './time-slice.js';

export class TokenBound {
  /** Longest vocabulary token in its vocabulary form (byte-level BPE: one char per byte). */
  private readonly longest: number;
  /** Byte-level BPE: per ASCII code, the longest token made only of that byte (≥ 1); null otherwise. */
  private readonly runs: Uint32Array | null;

  constructor(vocab: readonly (string | undefined)[], byteLevel: boolean) {
    let longest = 1;
    for (const t of vocab) if (t !== undefined && t.length > longest) longest = t.length;
    this.longest = longest;
    this.runs = byteLevel ? asciiRuns(vocab) : null;
  }

  /** At most this many tokens encode `text` — never more than the true count. Stops early once past `limit`. */
  minTokens(text: string, limit = Infinity): number {
    const slicer = new Slicer();
    return runToEnd(this.minTokensWork(text, limit, slicer), slicer);
  }

  /** {@link minTokens}, yielding when `slicer` is due (one pass over megabytes takes tens of ms). */
  *minTokensWork(text: string, limit: number, slicer: Slicer): SlicedWork<number> {
    const m = this.longest;
    const runs = this.runs;
    const bound = Math.ceil((runs !== null ? Buffer.byteLength(text, 'utf8') : text.length) / m);
    if (runs === null || text.length <= 2 * m || bound > limit) return bound;
    let inner = 0;
    for (let i = 0; i < text.length; ) {
      const c = text.charCodeAt(i);
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) === c) j++;
      if (c < 128 && j - i > 2 * m) {
        inner += Math.ceil((j - i - 2 * m) / runs[c]!);
        if (inner > limit) break;
      }
      if (slicer.due(j - i)) yield;
      i = j;
    }
    return Math.max(bound, inner);
  }
}

/** Per ASCII code: the longest byte-level token made only of that byte (1 when none is longer). */
function asciiRuns(vocab: readonly (string | undefined)[]): Uint32Array {
  const out = new Uint32Array(128).fill(1);
  const code = new Map<string, number>();
  for (let b = 0; b < 128; b++) code.set(BYTE_CHAR[b]!, b);
  for (const t of vocab) {
    if (t === undefined || t.length < 2) continue;
    const b = code.get(t[0]!);
    if (b === undefined || t.length <= out[b]!) continue;
    let same = true;
    for (let i = 1; i < t.length && same; i++) same = t[i] === t[0];
    if (same) out[b] = t.length;
  }
  return out;
}
