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
  return {
    name: `llama.cpp${opts.flashAttention ? ' (FA on)' : ' (FA off)'}`,
    async open(capacity: number): Promise<BenchSequence> {
      const context = await model.createContext({
        contextSize: capacity,
        batchSize: opts.batchSize ?? 512,
        threads: { ideal: opts.threads, min: opts.threads },
        flashAttention: opts.flashAttention,
        sequences: 1,
      });
      const seq = context.getSequence();
      let last: number | undefined;
      return {
        async prefill(tokens) {
          await seq.evaluateWithoutGeneratingNewTokens(tokens as never);
          last = tokens[tokens.length - 1];
        },
        async decode(n) {
          // evaluate() re-feeds the last token; start from an empty input by generating after the context
          let i = 0;
          const it = seq.evaluate([last as never], { temperature: 0 });
          // the first yielded token follows `last`, which llama.cpp evaluates once more (one extra token of work)
          for await (const _tok of it) {
            if (++i >= n) break;
          }
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
}
