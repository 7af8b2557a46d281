/**
 * make-model's `--dtype fp8`: a folder in the layout of Qwen's FP8 releases (Qwen3-*-FP8, Qwen3.5 / 3.6 -FP8).
 * The random weights (the same streams as the BF16 model of the seed) of every linear layer are quantized to
 * F8_E4M3 per 128×128 block with scale = amax / 448 stored beside it as `<name>_scale_inv` (F32,
 * [⌈rows/128⌉, ⌈cols/128⌉]); embeddings, norms, lm_head, the MoE routers, the shared-expert gate and DeltaNet's small
 * in_proj_a / in_proj_b and parameters stay BF16. Qwen3.5-MoE experts are written one matrix per expert, as Qwen does.
 */
import { encodeE4m3, E4M3_MAX } from '../model/fp8-e4m3.js';
import type { ExpectedTensor, ModelConfig } from '../model/model-spec.js';
import type { StoredDType } from '../model/safetensors.js';
import type { WeightStream } from './make-model.js';

/** Rows × columns of one scale block. */
export const FP8_BLOCK = 128;

/** Linear modules an FP8 release keeps in BF16, by suffix (the embedding is not a linear layer). */
const KEPT = ['lm_head', '.mlp.gate', '.shared_expert_gate', '.linear_attn.in_proj_a', '.linear_attn.in_proj_b'];

/** Whether make-model quantizes tensor `t` to FP8. */
export function isFp8Quantized(t: ExpectedTensor): boolean {
  if (t.kind !== 'matrix' || t.name.endsWith('embed_tokens.weight')) return false;
  const module = t.name.replace(/\.weight$/, '');
  return !KEPT.some((k) => module.endsWith(k));
}

/** config.json's quantization_config of an FP8 folder of `c` (modules_to_not_convert as the releases list them). */
export function fp8QuantizationConfig(tensors: ExpectedTensor[]): Record<string, unknown> {
  const kept = tensors.filter((t) => t.kind === 'matrix' && !t.name.endsWith('embed_tokens.weight') && !isFp8Quantized(t)).map((t) => t.name.replace(/\.weight$/, ''));
  return { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [FP8_BLOCK, FP8_BLOCK], modules_to_not_convert: kept };
}

/** One tensor of the written file. */
export interface WrittenTensor {
  name: string;
  dtype: StoredDType;
  shape: number[];
}

/** 3-D fused experts of a Qwen3.5-MoE, written per expert: [gate, up] per expert for gate_up_proj, down per expert. */
function perExpert(t: ExpectedTensor): { base: string; parts: { proj: string; rows: number }[]; experts: number; cols: number } | undefined {
  if (t.shape.length !== 3) return undefined;
  const [E, R, C] = t.shape as [number, number, number];
  if (t.name.endsWith('mlp.experts.gate_up_proj')) return { base: t.name.slice(0, -'gate_up_proj'.length), parts: [{ proj: 'gate_proj', rows: R / 2 }, { proj: 'up_proj', rows: R / 2 }], experts: E, cols: C };
  if (t.name.endsWith('mlp.experts.down_proj')) return { base: t.name.slice(0, -'down_proj'.length), parts: [{ proj: 'down_proj', rows: R }], experts: E, cols: C };
  return undefined;
}

/** The quantized matrices tensor `t` is written as, in file order (each followed by its scales), with their shapes. */
function quantizedParts(t: ExpectedTensor): { name: string; rows: number; cols: number }[] {
  const pe = perExpert(t);
  if (!pe) return [{ name: t.name, rows: t.shape[0]!, cols: t.shape.slice(1).reduce((a, d) => a * d, 1) }];
  const out: { name: string; rows: number; cols: number }[] = [];
  for (let e = 0; e < pe.experts; e++) for (const p of pe.parts) out.push({ name: `${pe.base}${e}.${p.proj}.weight`, rows: p.rows, cols: pe.cols });
  return out;
}

/** Header entries for tensor `t` in an FP8 folder. */
export function fp8WrittenTensors(t: ExpectedTensor): WrittenTensor[] {
  if (!isFp8Quantized(t)) return [{ name: t.name, dtype: 'bf16', shape: t.shape }];
  return quantizedParts(t).flatMap((p) => [
    { name: p.name, dtype: 'f8_e4m3' as const, shape: [p.rows, p.cols] },
    { name: `${p.name}_scale_inv`, dtype: 'f32' as const, shape: [Math.ceil(p.rows / FP8_BLOCK), Math.ceil(p.cols / FP8_BLOCK)] },
  ]);
}

/**
 * Quantizes one band of ≤ 128 rows (`vals`, rows × cols) into `codes` and the band's scales (one per column block):
 * scale = amax / 448 in f32 (1 for an all-zero block), code = e4m3(x / scale), ties to even, saturating.
 */
export function quantizeBand(vals: Float32Array, rows: number, cols: number, codes: Uint8Array, scales: Float32Array): void {
  for (let cb = 0; cb * FP8_BLOCK < cols; cb++) {
    const c0 = cb * FP8_BLOCK, c1 = Math.min(cols, c0 + FP8_BLOCK);
    let amax = 0;
    for (let r = 0; r < rows; r++) for (let c = c0; c < c1; c++) amax = Math.max(amax, Math.abs(vals[r * cols + c]!));
    const s = amax > 0 ? Math.fround(amax / E4M3_MAX) : 1;
    scales[cb] = s;
    for (let r = 0; r < rows; r++) for (let c = c0; c < c1; c++) codes[r * cols + c] = encodeE4m3(vals[r * cols + c]! / s);
  }
}

/** Streams tensor `t`'s quantized bytes (codes of each part, then its F32 scales), drawing values from `stream` in the tensor's row-major order. */
export function* fp8TensorChunks(t: ExpectedTensor, stream: WeightStream, mean: number, std: number): Generator<Uint8Array> {
  for (const p of quantizedParts(t)) {
    const nbc = Math.ceil(p.cols / FP8_BLOCK);
    const scales = new Float32Array(Math.ceil(p.rows / FP8_BLOCK) * nbc);
    for (let r0 = 0; r0 < p.rows; r0 += FP8_BLOCK) {
      const rows = Math.min(FP8_BLOCK, p.rows - r0);
      const vals = new Float32Array(rows * p.cols);
      stream.fill(vals, mean, std);
      const codes = new Uint8Array(rows * p.cols);
      quantizeBand(vals, rows, p.cols, codes, scales.subarray((r0 / FP8_BLOCK) * nbc, (r0 / FP8_BLOCK + 1) * nbc));
      yield codes;
    }
    yield new Uint8Array(scales.buffer);
  }
}
