/**
 * `--model FILE.gguf` on quantized files (Q8_0, Q6_K, Q4_K_M with llama.cpp's mix, written by our writer for the
 * tiny-256 preset whose rows are whole 256-blocks), loaded through the GGUF loader, against llama.cpp on the same
 * file (F32 KV): top-1 agreement and KL(llama.cpp ‖ ours) over llama.cpp's top-40, 200 random tokens.
 *
 * Both engines quantize each matmul's activations alike (q8_0 blocks with f16 scales, q8_K blocks; quant-formats.h),
 * so where one block of matmuls is quantized they agree as their float pipelines do (≥ 99 % top-1, the second
 * describe). Through a whole file of them this random-weight model is chaotic: any float difference that flips one
 * activation's 8-bit rounding moves the next layers' roundings, and 8-bit activations alone move its top-1 at 16–18 %
 * of positions (our engine on the file vs on an F32 copy of the file's values). No two float pipelines reach 99 %
 * there — measured (AVX2): llama.cpp against itself on the Q4_K_M file, one 200-token batch vs batches of 7 (its
 * repacked Q4_K gemm vs gemv), top-1 191/200; our AVX2 vs our portable kernels 181–189/200 — so the whole-file bars
 * are set near what is achieved.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GgufQuantType } from '../../engine/synth/gguf-quant.js';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { ensureModel } from '../support/models.js';
import { randomTokens } from '../support/numeric.js';
import { fileAgreement } from '../support/oracle-compare.js';

const PRESET = 'tiny-256';
const POSITIONS = 200;

/** Our engine and llama.cpp on the GGUF of the preset in file type ft (only the matrices `only` matches quantized, the rest F32). */
async function agreement(ft: GgufQuantType, only?: { tag: string; re: RegExp }): Promise<{ top1: number; kl: number; types: string }> {
  const { dir } = await ensureModel(PRESET, 'bf16');
  const gguf = join(dir, `model-${ft}${only ? `-only-${only.tag}` : ''}.gguf`);
  if (!existsSync(gguf)) await writeGgufFromFolder(dir, gguf, { matrixDtype: ft, name: `${PRESET}-${ft}`, ...(only && { quantize: (n: string) => only.re.test(n) }) });  // atomic
  const r = await fileAgreement(gguf, randomTokens(POSITIONS, 11));
  expect(r.positions).toBe(POSITIONS);
  expect(r.types).toMatch(/q/);
  return r;
}

const WHOLE = [
  // measured (AVX2, 200 positions): q8_0 top-1 186/200 KL 1.6e-2; q6_k 176/200 3.1e-2; q4_k_m 194/200 9.0e-3
  { ft: 'q8_0', top1: 0.9, kl: 0.025 },
  { ft: 'q6_k', top1: 0.86, kl: 0.045 },
  { ft: 'q4_k_m', top1: 0.95, kl: 0.013 },
] as const;

describe.each(WHOLE)(`${PRESET} $ft: the GGUF-loaded engine vs llama.cpp on the same file`, ({ ft, top1, kl }) => {
  it('top-1 agreement and KL from llama.cpp bounded', async () => {
    const r = await agreement(ft);
    console.log(`GGUF ${PRESET} ${ft} (${r.types}) vs llama.cpp: top-1 ${r.top1}, KL ${r.kl.toExponential(2)}`);
    expect(r.top1).toBeGreaterThanOrEqual(top1);
    expect(r.kl).toBeLessThanOrEqual(kl);
  }, 600_000);
});

const BLOCK0 = { tag: 'blk0', re: /^blk\.0\./ }, OUTPUT = { tag: 'output', re: /^output\./ };
const ONE_BLOCK = [
  // measured (AVX2): every case 200/200; KL q8_0 1.3e-4 (layer 0) / 7.8e-6 (lm_head), q6_k 2.3e-4 / 7.3e-6,
  // q4_k_m layer 0 (its Q4_K) 7.1e-5; F32 matrices throughout: 5.8e-6
  { ft: 'q8_0', only: BLOCK0, kl: 2.5e-4 },
  { ft: 'q8_0', only: OUTPUT, kl: 2e-5 },
  { ft: 'q6_k', only: BLOCK0, kl: 4e-4 },
  { ft: 'q6_k', only: OUTPUT, kl: 2e-5 },
  { ft: 'q4_k_m', only: BLOCK0, kl: 1.5e-4 },
] as const;

describe.each(ONE_BLOCK)(`${PRESET} $ft, only $only.tag quantized: our quantized matmuls compute what llama.cpp's do`, ({ ft, only, kl }) => {
  it('top-1 ≥ 99 % and KL near the float pipelines', async () => {
    const r = await agreement(ft, only);
    console.log(`GGUF ${PRESET} ${ft} only ${only.tag} (${r.types}) vs llama.cpp: top-1 ${r.top1}, KL ${r.kl.toExponential(2)}`);
    expect(r.top1).toBeGreaterThanOrEqual(0.99);
    expect(r.kl).toBeLessThanOrEqual(kl);
  }, 600_000);
});
