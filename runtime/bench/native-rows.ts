/**
 * The native llama.cpp anchor's figures for `resident bench` rows: llama-bench (built for this CPU by
 * `npm run build:anchor`) on the same GGUF, flash attention on and off, each row its best.
 */
import { anchorStatus, runNativeBench, type NativeBenchTest } from './native-anchor.js';
import type { PhaseFigures } from './workload.js';

/** Which llama-bench test measures a phase row (phases it has no counterpart for are absent). */
function testsOf(o: { prefill: number; decode: number; depth: number; longDepth: number }): Partial<Record<keyof PhaseFigures, NativeBenchTest>> {
  const t: Partial<Record<keyof PhaseFigures, NativeBenchTest>> = {
    prefill: { nPrompt: o.prefill, nGen: 0, depth: 0 },
    decode: { nPrompt: 0, nGen: o.decode, depth: o.prefill },
  };
  if (o.depth > 0) {
    t.coldPrefillDepth = { nPrompt: o.depth, nGen: 0, depth: 0 };
    t.prefillAtDepth = { nPrompt: o.prefill, nGen: 0, depth: o.depth };
    t.decodeAtDepth = { nPrompt: 0, nGen: o.decode, depth: o.depth + o.prefill };
  }
  if (o.longDepth > 0) t.decodeAtLongDepth = { nPrompt: 0, nGen: o.decode, depth: o.longDepth };
  return t;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1]! : NaN;
};

/**
 * Best tok/s (median over runs, better of flash attention on/off) per phase, or the reason the anchor is
 * missing (not built, or no GGUF) — reported, never thrown.
 */
export async function nativeFigures(gguf: string | undefined, o: { prefill: number; decode: number; depth: number; longDepth: number; threads: number; runs: number; fa: 'on' | 'off' | 'both' }): Promise<{ figures: Partial<Record<keyof PhaseFigures, number>> } | { missing: string }> {
  if (!gguf) return { missing: 'no --gguf: the native anchor needs the same weights as GGUF' };
  const st = anchorStatus();
  if (!st.built) return { missing: st.reason };
  const figures: Partial<Record<keyof PhaseFigures, number>> = {};
  const fa: ('on' | 'off')[] = o.fa === 'both' ? ['on', 'off'] : [o.fa];
  for (const [key, test] of Object.entries(testsOf(o)) as [keyof PhaseFigures, NativeBenchTest][]) {
    const res = await runNativeBench(st.llamaBench, gguf, [test], { threads: o.threads, runs: o.runs, fa });
    figures[key] = Math.max(...res.map((r) => median(r.samplesTs.length ? r.samplesTs : [r.avgTs])));
  }
  return { figures };
}
