/**
 * llama.cpp (through the node-llama-cpp package, a devDependency) as a benchmark anchor on the same
 * weights written as GGUF. CPU only, same thread count, flash attention on or off.
 */
import type { BenchBackend, BenchSequence } from './workload.js';

/** Opens a GGUF with node-llama-cpp; throws a clear error when the package is not installed. */
export async function llamaBackend(gguf: string, opts: { threads: number; flashAttention: boolean; batchSize?: number }): Promise<BenchBackend> {
  let mod: typeof import('node-llama-cpp');
  try {
    mod = await import('node-llama-cpp');
  } catch {
    throw new Error("the llama.cpp anchor needs the 'node-llama-cpp' package (a devDependency: run npm install in the repo)");
  }
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
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
