/**
 * How far apart quantized GGUF files put two float pipelines on the tiny-256 random model (issue 22's evidence):
 *   npx tsx bench/quant-agreement.ts [--types q8_0,q6_k,q4_k_m] [--positions 200]
 * Per file type, over the same random tokens (top-1 agreement and KL over the first one's top-40):
 *   - our engine vs llama.cpp on the same file (what test/model/gguf-quant-oracle.test.ts bounds);
 *   - llama.cpp vs itself: one batch of all positions vs batches of 7 (on AVX2 its Q4_K runs a repacked gemm for
 *     batches ≥ 4 rows, gemv for the rest);
 *   - our AVX2 level vs our portable level (same activation rounding rules, different float summation order);
 *   - our engine on the file vs on an F32 copy of the file's values (the effect of 8-bit activations alone).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectTop } from '../engine/decode/top-k.js';
import { loadModelSpec } from '../engine/model/hf-model.js';
import { loadModelSpecFrom } from '../engine/model/load-model.js';
import { loadEngine, nativeBinding } from '../engine/native.js';
import type { GgufQuantType } from '../engine/synth/gguf-quant.js';
import { writeGgufFromFolder } from '../engine/synth/gguf-writer.js';
import { LlamaOracle } from '../test/support/llama-oracle.js';
import { ensureModel } from '../test/support/models.js';
import { logSoftmax, randomTokens, row } from '../test/support/numeric.js';
import { dequantizedFolder } from '../test/support/quantized-gguf.js';

const { values } = parseArgs({ options: { types: { type: 'string', default: 'q8_0,q6_k,q4_k_m' }, positions: { type: 'string', default: '200' } } });
const N = Number(values.positions);
const tokens = randomTokens(N, 11);
type Top = { id: number; logprob: number }[];

/** Our engine's log-probs at every position (one prefill), as top-40 lists plus a lookup. */
async function ours(spec: Parameters<typeof loadEngine>[0], kernels: 'auto' | 'avx2' | 'portable' = 'auto'): Promise<{ top: Top; lp: (id: number) => number }[]> {
  const e = await loadEngine(spec, { threads: 2, kernels });
  try {
    const [out] = await e.forward([{ slot: e.createSlot(N + 8, 'f32'), tokens, logits: 'all' }]);
    return tokens.map((_, i) => {
      const lp = logSoftmax(row(out!.data, i, spec.config.vocabSize));
      const { ids } = selectTop(Float32Array.from(lp), 40);
      const top = [...ids].map((id) => ({ id, logprob: lp[id]! }));
      return { top, lp: (id: number) => lp[id]! };
    });
  } finally {
    e.dispose();
  }
}

/** llama.cpp's top-40 at every position, tokens fed in batches of `chunk`. */
async function llama(gguf: string, chunk: number): Promise<{ top: Top; lp: (id: number) => number }[]> {
  const o = await LlamaOracle.open(gguf, { contextSize: Math.max(512, N + 8), topK: 40 });
  try {
    const out: { top: Top; lp: (id: number) => number }[] = [];
    for (let t = 0; t < N; t += chunk)
      for (const d of await o.evaluate(tokens.slice(t, t + chunk))) {
        const m = new Map(d.top.map((e) => [e.id, e.logprob]));
        out.push({ top: d.top, lp: (id) => m.get(id) ?? Math.log(1e-9) });  // outside its top-40: a floor
      }
    return out;
  } finally {
    await o.dispose();
  }
}

/** top-1 agreement and KL(a ‖ b) over a's top-40. */
function agree(a: { top: Top }[], b: { top: Top; lp: (id: number) => number }[]): string {
  let same = 0, kl = 0;
  a.forEach((p, i) => {
    if (p.top[0]!.id === b[i]!.top[0]!.id) same++;
    for (const e of p.top) kl += Math.exp(e.logprob) * (e.logprob - b[i]!.lp(e.id));
  });
  return `top-1 ${same}/${a.length} KL ${(kl / a.length).toExponential(2)}`;
}

const { dir } = await ensureModel('tiny-256', 'bf16');
const copies = mkdtempSync(join(tmpdir(), 'resident-quant-agreement-'));
try {
  for (const ft of values.types.split(',') as GgufQuantType[]) {
    const gguf = join(dir, `model-${ft}.gguf`);
    if (!existsSync(gguf)) await writeGgufFromFolder(dir, gguf, { matrixDtype: ft, name: `tiny-256-${ft}` });
    const spec = await loadModelSpecFrom(gguf);
    const mine = await ours(spec), whole = await llama(gguf, N), chunked = await llama(gguf, 7);
    console.log(`${ft}: ours vs llama.cpp ${agree(whole, mine)}; llama.cpp batch ${N} vs batches of 7 ${agree(whole, chunked)}`);
    if (nativeBinding().kernelLevels.includes('avx2')) console.log(`${ft}: ours avx2 vs portable ${agree(await ours(spec, 'avx2'), await ours(spec, 'portable'))}`);
    const f32 = await ours(await loadModelSpec(await dequantizedFolder(dir, gguf, join(copies, ft))));
    console.log(`${ft}: ours on the file vs ours on its F32 values ${agree(f32, mine)}`);
  }
} finally {
  rmSync(copies, { recursive: true, force: true });
}
process.exit(0);
