/**
 * How far apart quantized GGUF files put two float pipelines (issue 22's evidence):
 *   npx tsx bench/quant-agreement.ts [--preset tiny-256-calm] [--types q8_0,q6_k,q4_k_m] [--shape long,short] [--self]
 * Shapes: `long` one sequence of 200 random tokens, `short` 40 sequences of 8 (each from position 0), as
 * test/model/gguf-quant-oracle.test.ts. First the float model's top-1 margins (log p1 − log p2, nats); then per file
 * type (top-1 agreement and KL over the first one's top-40, every position):
 *   - our engine vs llama.cpp on the same file (what the test bounds);
 *   - with --self: llama.cpp vs itself, one batch per sequence vs batches of 7 (on AVX2 its Q4_K runs a repacked gemm
 *     for batches ≥ 4 rows, gemv for the rest): the noise floor of two float pipelines;
 *   - our engine on the BF16 model vs on the file: the model's sensitivity to quantization, comparable with llama.cpp's
 *     published table for real models (tools/perplexity/README.md, vs FP16; Llama-3-8B: Q8_0 top-1 97.7 % KL 1.4e-3,
 *     Q6_K 96.0 % 5.5e-3, Q4_K_M 91.9 % 3.1e-2; Llama-2-7B: 98.8 % 3.7e-4, 97.5 % 2.1e-3, 94.7 % 1.3e-2);
 *   - our AVX2 vs our portable kernels (same rounding rules, different summation order), where AVX2 runs;
 *   - our engine on an F32 copy of the file's values vs on the file (the effect of 8-bit activations alone).
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

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny-256-calm' },
    types: { type: 'string', default: 'q8_0,q6_k,q4_k_m' },
    shape: { type: 'string', default: 'long,short' },
    self: { type: 'boolean', default: false },
  },
});
const SHAPES: Record<string, number[][]> = {
  long: [randomTokens(200, 11)],
  short: Array.from({ length: 40 }, (_, i) => randomTokens(320, 11).slice(8 * i, 8 * i + 8)),
};
type Dist = { top: { id: number; logprob: number }[]; lp: (id: number) => number };

/** Our engine's log-probs at every position of every sequence (one batched forward), as top-40 lists plus a lookup. */
async function ours(spec: Parameters<typeof loadEngine>[0], seqs: number[][], kernels: 'auto' | 'avx2' | 'portable' = 'auto'): Promise<Dist[]> {
  const e = await loadEngine(spec, { threads: 2, kernels });
  try {
    const outs = await e.forward(seqs.map((tokens) => ({ slot: e.createSlot(tokens.length + 8, 'f32'), tokens, logits: 'all' as const })));
    return seqs.flatMap((tokens, s) =>
      tokens.map((_, i) => {
        const lp = logSoftmax(row(outs[s]!.data, i, spec.config.vocabSize));
        const { ids } = selectTop(Float32Array.from(lp), 40);
        return { top: [...ids].map((id) => ({ id, logprob: lp[id]! })), lp: (id: number) => lp[id]! };
      }),
    );
  } finally {
    e.dispose();
  }
}

/** llama.cpp's top-40 at every position, each sequence from position 0, fed in batches of `chunk`. */
async function llama(gguf: string, seqs: number[][], chunk: number): Promise<Dist[]> {
  const o = await LlamaOracle.open(gguf, { contextSize: 512, topK: 40 });
  try {
    const out: Dist[] = [];
    for (const tokens of seqs) {
      await o.reset();
      for (let t = 0; t < tokens.length; t += chunk)
        for (const d of await o.evaluate(tokens.slice(t, t + chunk))) {
          const m = new Map(d.top.map((e) => [e.id, e.logprob]));
          out.push({ top: d.top, lp: (id) => m.get(id) ?? Math.log(1e-9) }); // outside its top-40: a floor
        }
    }
    return out;
  } finally {
    await o.dispose();
  }
}

/** top-1 agreement and KL(a ‖ b) over a's top-40. */
function agree(a: Dist[], b: Dist[]): string {
  let same = 0, kl = 0;
  a.forEach((p, i) => {
    if (p.top[0]!.id === b[i]!.top[0]!.id) same++;
    for (const e of p.top) kl += Math.exp(e.logprob) * (e.logprob - b[i]!.lp(e.id));
  });
  return `top-1 ${same}/${a.length} KL ${(kl / a.length).toExponential(2)}`;
}

/** Quantiles of the top-1 margin (nats) and of the top-1 probability. */
function margins(d: Dist[]): string {
  const m = d.map((x) => x.top[0]!.logprob - x.top[1]!.logprob).sort((a, b) => a - b);
  const p1 = d.map((x) => Math.exp(x.top[0]!.logprob)).sort((a, b) => a - b);
  const q = (v: number[], f: number) => v[Math.floor(f * (v.length - 1))]!.toFixed(2);
  const below = (t: number) => `${((100 * m.filter((x) => x < t).length) / m.length).toFixed(1)} %`;
  return `margin p10 ${q(m, 0.1)} p50 ${q(m, 0.5)} p90 ${q(m, 0.9)} nats, < 0.1 nat ${below(0.1)}, < 0.5 ${below(0.5)}; top-1 p p50 ${q(p1, 0.5)}`;
}

const { dir } = await ensureModel(values.preset, 'bf16');
const copies = mkdtempSync(join(tmpdir(), 'resident-quant-agreement-'));
try {
  const floatSpec = await loadModelSpec(dir);
  for (const shape of values.shape.split(',')) {
    const seqs = SHAPES[shape];
    if (!seqs) throw new Error(`unknown shape ${shape} (long, short)`);
    const tag = `${values.preset} ${shape === 'long' ? '1 × 200' : '40 × 8'}`;
    const float = await ours(floatSpec, seqs);
    console.log(`${tag} BF16 model: ${margins(float)}`);
    for (const ft of values.types.split(',') as GgufQuantType[]) {
      const gguf = join(dir, `model-${ft}.gguf`);
      if (!existsSync(gguf)) await writeGgufFromFolder(dir, gguf, { matrixDtype: ft, name: `${values.preset}-${ft}` });
      const spec = await loadModelSpecFrom(gguf);
      const mine = await ours(spec, seqs), whole = await llama(gguf, seqs, 1 << 20);
      console.log(`${tag} ${ft}: ours vs llama.cpp ${agree(whole, mine)}`);
      if (values.self) console.log(`${tag} ${ft}: llama.cpp one batch vs batches of 7 ${agree(whole, await llama(gguf, seqs, 7))}`);
      console.log(`${tag} ${ft}: ours on the BF16 model vs on the file ${agree(float, mine)}`);
      if (nativeBinding().kernelLevels.includes('avx2')) console.log(`${tag} ${ft}: ours avx2 vs portable ${agree(await ours(spec, seqs, 'avx2'), await ours(spec, seqs, 'portable'))}`);
      const f32 = await ours(await loadModelSpec(await dequantizedFolder(dir, gguf, join(copies, ft))), seqs);
      console.log(`${tag} ${ft}: ours on the file's values in F32 vs on the file ${agree(f32, mine)}`);
    }
  }
} finally {
  rmSync(copies, { recursive: true, force: true });
}
process.exit(0);
