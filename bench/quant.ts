/**
 * Block-quant (GGUF) weights: kernel rates and our engine vs llama.cpp on the same quantized file.
 *   npx tsx bench/quant.ts [--model DIR --gguf FILE] [--threads N] [--prefill N] [--decode N] [--sessions N] [--runs N] [--no-kernels]
 * Kernels: one thread, a 2048 × 1024 weight (L2/L3-resident: compute rates, not DRAM) in each block type through
 * each level's matmul at n = 1, 8, 64 tokens (GMAC/s and weight GB/s, best of 5), beside the BF16 kernel at the same
 * shape (with bf16 activations where the level has vdpbf16ps; the JS call adds a little to the BF16 figures), and
 * the prefill panels (where the level has them for the type) at n = 32, 64, 256.
 * Model (with --model, a Qwen3 folder, and --gguf, its GGUF from 'resident gguf --type …'): our engine on the
 * file's own block types (test/support/quantized-gguf.ts maps the names until the engine loads GGUF itself) and
 * llama.cpp (node-llama-cpp, flash attention off, same threads) on the same file: prefill, decode, batched decode;
 * backends alternate, each figure the best of --runs.
 */
import { parseArgs } from 'node:util';
import { loadEngine, nativeBinding } from '../engine/native.js';
import { llamaBackend } from '../runtime/bench/llama-backend.js';
import { residentBackend } from '../runtime/bench/resident-backend.js';
import { runWorkload, type PhaseFigures } from '../runtime/bench/workload.js';
import { quantizedSpec } from '../test/support/quantized-gguf.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' }, gguf: { type: 'string' }, threads: { type: 'string', default: '2' },
    prefill: { type: 'string', default: '512' }, decode: { type: 'string', default: '64' }, sessions: { type: 'string', default: '8' },
    'no-kernels': { type: 'boolean', default: false }, runs: { type: 'string', default: '1' },
  },
});
const b = nativeBinding();
const TYPES = { q8_0: 4, q4_0: 5, q4_k: 6, q5_k: 7, q6_k: 8 } as const;
const ROWS = 2048, K = 1024;
const BEST_OF = 5;  // each kernel figure is the best of 5 timings (the machine may be shared)

function bf16Rate(level: string, n: number): number {
  const w = new Uint8Array(ROWS * K * 2);
  for (let i = 0; i < w.length; i += 2) (w[i] = (i * 7) & 255), (w[i + 1] = 0x3c);
  const x = Float32Array.from({ length: n * K }, (_, i) => Math.sin(i));
  const bf16x = b.kernelMatmul(level, x, n, K, w, 2, 0, 1, true) !== null;
  const reps = Math.max(2, Math.round(64 / n));
  let best = Infinity;
  for (let k = 0; k < BEST_OF; k++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) (bf16x ? b.kernelMatmul(level, x, n, K, w, 2, 0, ROWS, true) : b.kernelMatmul(level, x, n, K, w, 2, 0, ROWS));
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return (ROWS * K * n * reps) / best / 1e9;
}

if (!values['no-kernels']) {
  console.log(`kernels (1 thread, ${ROWS} × ${K}; GMAC/s, weight GB/s in parentheses); AVX512_VNNI ${b.avx512Vnni}`);
  for (const level of b.kernelLevels) {
    for (const [name, code] of Object.entries(TYPES)) {
      const cells = [1, 8, 64].map((n) => {
        const reps = Math.max(2, Math.round(64 / n));
        const r = Array.from({ length: BEST_OF }, () => b.quantMatmulRate(level, code, ROWS, K, n, reps)).reduce((a, c) => (c.seconds < a.seconds ? c : a));
        return `n=${n} ${((ROWS * K * n * reps) / r.seconds / 1e9).toFixed(1)} (${r.gbps.toFixed(1)})`;
      });
      console.log(`  ${level.padEnd(8)} ${name.padEnd(5)} ${cells.join('  ')}`);
      if (b.quantMatmulRate(level, code, 64, 256, 32, 1, true) !== null) {  // prefill panels: activations quantized once, not timed
        const panels = [32, 64, 256].map((n) => {
          const reps = Math.max(2, Math.round(256 / n));
          const r = Array.from({ length: BEST_OF }, () => b.quantMatmulRate(level, code, ROWS, K, n, reps, true)!).reduce((a, c) => (c.seconds < a.seconds ? c : a));
          return `n=${n} ${((ROWS * K * n * reps) / r.seconds / 1e9).toFixed(1)}`;
        });
        console.log(`  ${level.padEnd(8)} ${name.padEnd(5)} panels: ${panels.join('  ')}`);
      }
    }
    console.log(`  ${level.padEnd(8)} bf16  ${[1, 8, 64].map((n) => `n=${n} ${bf16Rate(level, n).toFixed(1)}`).join('  ')}`);
  }
  console.log(`DRAM read: 1 thread ${(await b.memoryReadRate(512, 1, 3)).toFixed(1)} GB/s, 2 threads ${(await b.memoryReadRate(512, 2, 3)).toFixed(1)} GB/s`);
}

if (values.model && values.gguf) {
  const threads = Number(values.threads);
  const o = { prefill: Number(values.prefill), decode: Number(values.decode), depth: 0, longDepth: 0, sessions: Number(values.sessions), agentDepth: 0, agentAppend: 0, agentGenerate: 0, repetitive: false };
  const engine = await loadEngine(await quantizedSpec(values.model, values.gguf), { threads, maxBatchTokens: Math.max(512, o.prefill) });
  const llama = await llamaBackend(values.gguf, { threads, flashAttention: false });
  const best = (a: PhaseFigures | undefined, c: PhaseFigures): PhaseFigures =>
    a ? { ...c, prefill: Math.max(a.prefill, c.prefill), decode: Math.max(a.decode, c.decode), decodeSessions: Math.max(a.decodeSessions, c.decodeSessions) } : c;
  let ours: PhaseFigures | undefined, theirs: PhaseFigures | undefined;
  for (let r = 0; r < Number(values.runs); r++) {  // alternating, best of --runs each (the machine may be shared)
    ours = best(ours, await runWorkload(residentBackend(engine), o));
    theirs = best(theirs, await runWorkload(llama, o));
  }
  engine.dispose();
  await llama.close();
  if (!ours || !theirs) throw new Error('--runs must be at least 1');
  const row = (name: string, a: number, c: number) => console.log(`  ${name.padEnd(28)} ${a.toFixed(1).padStart(8)} ${c.toFixed(1).padStart(10)} ${(a / c).toFixed(2).padStart(7)}`);
  console.log(`model ${values.gguf} (${threads} threads): tok/s      ours  llama.cpp   ratio`);
  row(`prefill ${o.prefill}`, ours.prefill, theirs.prefill);
  row(`decode ${o.decode}`, ours.decode, theirs.decode);
  if (o.sessions > 1) row(`decode ${o.sessions} sessions (total)`, ours.decodeSessions, theirs.decodeSessions);
}
