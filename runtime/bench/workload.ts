/**
 * The dense benchmark workload, identical for every backend: prefill P tokens then decode D tokens
 * greedily, at depth 0 and after `depth` tokens of context. Backends report seconds per phase.
 */

/** One benchmark backend: a fresh sequence per run. */
export interface BenchBackend {
  name: string;
  /** Starts a new empty sequence with room for `capacity` tokens. */
  open(capacity: number): Promise<BenchSequence>;
  /** Starts `n` sequences decoded together (one batched step per token). */
  openMany(n: number, capacity: number): Promise<BenchSequence>;
  close(): Promise<void>;
}

export interface BenchSequence {
  /** Appends tokens (no logits needed beyond the last); for a group, each sequence gets its own copy. */
  prefill(tokens: number[]): Promise<void>;
  /** Generates n tokens greedily after what is there (n per sequence for a group). */
  decode(n: number): Promise<void>;
  /** Greedy decode with model-free (n-gram) speculation, where the backend has it; returns accepted drafts per forward. */
  decodeSpeculative?(n: number): Promise<number>;
  close(): Promise<void>;
}

export interface WorkloadOptions {
  prefill: number;
  decode: number;
  depth: number;
  /** Decode at this much deeper context too (0: skip). */
  longDepth: number;
  /** Sessions decoding at once (≤ 1: skip). */
  sessions: number;
  /** An agent's turn after this much context: append `agentAppend` tokens (a tool result), generate `agentGenerate` (0: skip). */
  agentDepth: number;
  agentAppend: number;
  agentGenerate: number;
  /** Also decode after a repetitive context, plain and with n-gram speculation (default true). */
  repetitive?: boolean;
}

/** Tokens per second of each phase; NaN where the phase was skipped. */
export interface PhaseFigures {
  prefill: number; // tok/s at depth 0
  decode: number;
  coldPrefillDepth: number; // tok/s of the `depth`-token prefill itself
  prefillAtDepth: number;
  decodeAtDepth: number;
  decodeAtLongDepth: number;
  decodeSessions: number; // total tok/s of `sessions` sequences decoding together
  /** Greedy decode after a repetitive prompt (a file resent with edits), plain and with n-gram speculation. */
  decodeRepetitive: number;
  decodeSpeculative: number;
  acceptedPerStep: number;
  /** Seconds of one agent turn (append + generate) at agentDepth; NaN when skipped. */
  agentTurnSeconds: number;
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
  fig.decodeAtLongDepth = NaN;
  if (o.longDepth > 0) {
    const seq = await b.open(o.longDepth + o.decode + 16);
    for (let done = 0; done < o.longDepth; done += 4096) await seq.prefill(benchTokens(Math.min(4096, o.longDepth - done), 10 + done));
    fig.decodeAtLongDepth = o.decode / (await timed(() => seq.decode(o.decode)));
    await seq.close();
  }
  fig.agentTurnSeconds = NaN;
  if (o.agentDepth > 0) {
    const seq = await b.open(o.agentDepth + o.agentAppend + o.agentGenerate + 16);
    for (let done = 0; done < o.agentDepth; done += 4096) await seq.prefill(benchTokens(Math.min(4096, o.agentDepth - done), 40 + done));
    fig.agentTurnSeconds = await timed(async () => {
      await seq.prefill(benchTokens(o.agentAppend, 41));
      await seq.decode(o.agentGenerate);
    });
    await seq.close();
  }
  fig.decodeSessions = NaN;
  if (o.sessions > 1) {
    const group = await b.openMany(o.sessions, o.prefill + o.decode + 16);
    await group.prefill(benchTokens(o.prefill, 4));
    fig.decodeSessions = (o.sessions * o.decode) / (await timed(() => group.decode(o.decode)));
    await group.close();
  }
  fig.decodeSpeculative = fig.acceptedPerStep = fig.decodeRepetitive = NaN;
  if (o.repetitive !== false) {
    // a copilot-style context: the same 128-token "file" four times, as an edit session resends it
    const file = benchTokens(128, 21);
    const prompt = [...file, ...file, ...file, ...file];
    const plain = await b.open(prompt.length + o.decode + 16);
    await plain.prefill(prompt);
    fig.decodeRepetitive = o.decode / (await timed(() => plain.decode(o.decode)));
    await plain.close();
    const spec = await b.open(prompt.length + o.decode + 16);
    if (spec.decodeSpeculative) {
      await spec.prefill(prompt);
      let accepted = 0;
      fig.decodeSpeculative = o.decode / (await timed(async () => { accepted = await spec.decodeSpeculative!(o.decode); }));
      fig.acceptedPerStep = accepted;
    }
    await spec.close();
  }
  return fig as PhaseFigures;
}
