/**
 * llama.cpp (through the node-llama-cpp package, a devDependency) as a benchmark anchor on the same
 * weights written as GGUF. CPU only, same thread count, flash attention on or off.
 */
import type { LogProbs } from './accuracy.js';
import type { BenchBackend, BenchSequence } from './workload.js';

async function loadLlamaModel(gguf: string) {
  let mod: typeof import('node-llama-cpp');
  try {
    mod = await import('node-llama-cpp');
  } catch {
    throw new Error("the llama.cpp anchor needs the 'node-llama-cpp' package (a devDependency: run npm install in the repo)");
  }
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error });
  return llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
}

/**
 * llama.cpp's next-token log-probs at every position of `tokens` (full vocabulary, temperature 1, F32 KV),
 * in the same layout as engineLogProbs: what it predicts after each token.
 */
export async function llamaLogProbs(gguf: string, tokens: number[], vocab: number, threads: number): Promise<LogProbs> {
  const model = await loadLlamaModel(gguf);
  const context = await model.createContext({
    contextSize: tokens.length + 16, batchSize: tokens.length, sequences: 1, threads: { ideal: threads, min: threads },
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  try {
    const out = await context.getSequence().controlledEvaluate(tokens.map((t) => [t as never, { generateNext: { probabilities: true } }]));
    return tokens.map((_, i) => {
      const probs = out[i]?.next.probabilities;
      if (!probs) throw new Error(`llama.cpp returned no distribution at position ${i}`);
      const lp = new Float64Array(vocab).fill(-Infinity);
      for (const [id, p] of probs) lp[id as unknown as number] = Math.log(p);
      return lp;
    });
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

/** Opens a GGUF with node-llama-cpp; throws a clear error when the package is not installed. */
export async function llamaBackend(gguf: string, opts: { threads: number; flashAttention: boolean; batchSize?: number }): Promise<BenchBackend> {
  const model = await loadLlamaModel(gguf);
  const backend: BenchBackend = {
    name: `llama.cpp${opts.flashAttention ? ' (FA on)' : ' (FA off)'}`,
    open: (capacity: number) => backend.openMany(1, capacity),
    async openMany(n: number, capacity: number): Promise<BenchSequence> {
      const context = await model.createContext({
        contextSize: capacity * n,
        batchSize: Math.max(opts.batchSize ?? 512, n),
        threads: { ideal: opts.threads, min: opts.threads },
        flashAttention: opts.flashAttention,
        sequences: n,
      });
      const seqs = Array.from({ length: n }, () => context.getSequence());
      // Each prefill keeps back its last token and the next call feeds it first (so a prefill of n tokens
      // evaluates n); decode feeds it too, so each of the n decode steps is one forward.
      let pending: (number | undefined)[] = seqs.map(() => undefined);
      return {
        async prefill(tokens) {
          await Promise.all(
            seqs.map((s, i) => {
              const input = [...(pending[i] === undefined ? [] : [pending[i]!]), ...tokens.slice(0, -1)];
              return s.evaluateWithoutGeneratingNewTokens(input as never);
            }),
          );
          pending = seqs.map(() => tokens[tokens.length - 1]!);
        },
        async decode(steps) {
          await Promise.all(
            seqs.map(async (s, i) => {
              let k = 0;
              for await (const tok of s.evaluate([pending[i] as never], { temperature: 0 })) {
                pending[i] = tok as unknown as number;
                if (++k >= steps) break;
              }
            }),
          );
        },
        async close() {
          await context.dispose();
        },
      };
    },
    async close() {
      await model.dispose();
    },
  };
  return backend;
}
