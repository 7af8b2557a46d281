/**
 * The dense benchmark workload, identical for every backend: prefill P tokens then decode D tokens
 * greedily, at depth 0 and after `depth` tokens of context. Backends report seconds per phase.
 */

/** One benchmark backend: a fresh sequence per run. */
export interface BenchBackend {
  name: string;
  /** Starts a new empty sequence with room for `capacity` tokens. */
  open(capacity: number): Promise<BenchSequence>;
  close(): Promise<void>;
}

export interface BenchSequence {
  /** Appends tokens (no logits needed beyond the last). */
  prefill(tokens: number[]): Promise<void>;
  /** Generates n tokens greedily after what is there. */
  decode(n: number): Promise<void>;
  close(): Promise<void>;
}

export interface WorkloadOptions {
  prefill: number;
  decode: number;
  depth: number;
}

export interface PhaseFigures {
  prefill: number; // tok/s at depth 0
  decode: number;
  coldPrefillDepth: number; // tok/s of the `depth`-token prefill itself
  prefillAtDepth: number;
  decodeAtDepth: number;
}

/** Deterministic token ids below Qwen3's special tokens. */
export function benchTokens(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(1000 + (s % 100_000));
  }
  return out;
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

/** Runs the workload once on a backend and returns tokens/s for each phase. */
export async function runWorkload(b: BenchBackend, o: WorkloadOptions): Promise<PhaseFigures> {
  const fig: Partial<PhaseFigures> = {};
  {
    const seq = await b.open(o.prefill + o.decode + 16);
    fig.prefill = o.prefill / (await timed(() => seq.prefill(benchTokens(o.prefill, 1))));
    fig.decode = o.decode / (await timed(() => seq.decode(o.decode)));
    await seq.close();
  }
  if (o.depth > 0) {
    const seq = await b.open(o.depth + o.prefill + o.decode + 16);
    fig.coldPrefillDepth = o.depth / (await timed(() => seq.prefill(benchTokens(o.depth, 2))));
    fig.prefillAtDepth = o.prefill / (await timed(() => seq.prefill(benchTokens(o.prefill, 3))));
    fig.decodeAtDepth = o.decode / (await timed(() => seq.decode(o.decode)));
    await seq.close();
  } else {
    fig.coldPrefillDepth = fig.prefillAtDepth = fig.decodeAtDepth = NaN;
  }
  return fig as PhaseFigures;
}
