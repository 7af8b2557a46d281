/**
 * llama.cpp (through node-llama-cpp, CPU only) as the oracle for next-token distributions.
 *
 * Exactness: `controlledEvaluate` with a temperature-0 sampler chain (greedy only, no penalties) leaves
 * the raw logits untouched; we ask for the top-k logits and `totalLogitWeight` = Σ exp(logit − max) over the
 * full vocabulary, so log p(id) = logit(id) − max − ln(totalLogitWeight) is the full-vocabulary log-softmax
 * at temperature 1 (the sum is accumulated in f32 by llama.cpp: ~1e-5 relative error).
 * The KV cache is F32 by default so the oracle is not limited by F16 K/V rounding.
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';

/** One position's distribution: the distribution of the token following `pos`. */
export interface PositionDist {
  pos: number;
  /** Top-k tokens by log-prob, best first. */
  top: { id: number; logprob: number }[];
  /** Log-probs of the extra ids asked for (`ids` option). */
  ids?: Map<number, number>;
}

/** Oracle options. */
export interface OracleOptions {
  topK?: number;
  /** Context size in tokens (default 2048). */
  contextSize?: number;
  threads?: number;
  flashAttention?: boolean;
  /** K/V cache type (default F32). */
  kvType?: 'F32' | 'F16';
}

let llamaPromise: Promise<Llama> | undefined;
const models = new Map<string, Promise<LlamaModel>>();

async function getLlamaCpu(): Promise<Llama> {
  llamaPromise ??= import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false }),
  );
  return llamaPromise;
}

async function loadModel(ggufPath: string): Promise<LlamaModel> {
  let m = models.get(ggufPath);
  if (!m) {
    m = getLlamaCpu().then((llama) => llama.loadModel({ modelPath: ggufPath, gpuLayers: 0, useMmap: true }));
    models.set(ggufPath, m);
  }
  return m;
}

/** A llama.cpp context over one sequence; `evaluate` appends tokens and returns their next-token distributions. */
export class LlamaOracle {
  private constructor(
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    private readonly topK: number,
  ) {}

  /** Opens a fresh context on the GGUF model (the model itself is loaded once per path and kept). */
  static async open(ggufPath: string, opts: OracleOptions = {}): Promise<LlamaOracle> {
    const model = await loadModel(ggufPath);
    const contextSize = opts.contextSize ?? 2048;
    const context = await model.createContext({
      contextSize,
      batchSize: Math.min(contextSize, 1024),
      sequences: 1,
      threads: opts.threads ?? 2,
      flashAttention: opts.flashAttention ?? false,
      experimentalKvCacheKeyType: opts.kvType ?? 'F32',
      experimentalKvCacheValueType: opts.kvType ?? 'F32',
    });
    return new LlamaOracle(context, context.getSequence(), opts.topK ?? 10);
  }

  /** Number of tokens in the sequence so far. */
  get length(): number {
    return this.sequence.nextTokenIndex;
  }

  /**
   * Appends `tokens` at positions [length, length + n) and returns the distributions after each of them
   * (or only after the absolute positions in `positions`). `ids`: extra token ids whose log-probs to report.
   */
  async evaluate(tokens: readonly number[], opts: { positions?: readonly number[]; ids?: readonly number[] } = {}): Promise<PositionDist[]> {
    const start = this.length;
    const want = opts.positions ? new Set(opts.positions) : undefined;
    const ids = opts.ids ?? [];
    const input = tokens.map((t, i) =>
      !want || want.has(start + i)
        ? ([t, { generateNext: { logits: { filter: { tokens: ids, includeTop: this.topK } }, totalLogitWeight: true } }] as const)
        : t,
    );
    const out = await this.sequence.controlledEvaluate(input as Parameters<LlamaContextSequence['controlledEvaluate']>[0]);
    const result: PositionDist[] = [];
    out.forEach((o, i) => {
      const next = o?.next;
      if (!next?.logits || next.totalLogitWeight === undefined) return;
      let max = -Infinity;
      for (const v of next.logits.values()) if (v > max) max = v;
      // includeTop guarantees the true maximum logit is in the map.
      const lse = max + Math.log(next.totalLogitWeight);
      const all = [...next.logits].map(([id, logit]) => ({ id, logprob: logit - lse }));
      all.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
      const d: PositionDist = { pos: start + i, top: all.slice(0, this.topK) };
      if (ids.length) d.ids = new Map(all.filter((e) => ids.includes(e.id)).map((e) => [e.id, e.logprob]));
      result.push(d);
    });
    return result;
  }

  /** Empties the sequence (its KV too): the next `evaluate` starts again at position 0. */
  async reset(): Promise<void> {
    await this.sequence.clearHistory();
  }

  /** Frees the context (the model stays loaded for the next oracle). */
  async dispose(): Promise<void> {
    await this.context.dispose();
  }
}

/**
 * Log-softmax top-k after every position of `tokens` (or only `positions`), in a fresh context.
 * Entry `pos` is the distribution of the token following position `pos`.
 */
export async function llamaTopK(
  ggufPath: string,
  tokens: readonly number[],
  opts: OracleOptions & { positions?: readonly number[] } = {},
): Promise<PositionDist[]> {
  const oracle = await LlamaOracle.open(ggufPath, { ...opts, contextSize: opts.contextSize ?? Math.max(256, tokens.length + 16) });
  try {
    return await oracle.evaluate(tokens, { positions: opts.positions });
  } finally {
    await oracle.dispose();
  }
}
