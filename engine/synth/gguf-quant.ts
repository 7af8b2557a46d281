/**
 * GGUF block-quant types for writing quantized models: block sizes, ggml type ids, llama.cpp file types, the
 * per-tensor mix of the _M file types, and quantization through the native quantizers (engine/native/quantize-gguf.cpp).
 *
 * The mix (llama.cpp's llama-quant.cpp for Q4_K_M / Q5_K_M, non-Falcon, no imatrix, simplified):
 *   - output.weight (and token_embd.weight when the embeddings are tied) → Q6_K (Q8_0 files keep Q8_0);
 *   - attn_v of the i-th attention layer (of n) and ffn_down* of layer i (of n layers) → Q6_K when
 *     use_more_bits(i, n) = i < n/8 || i ≥ 7n/8 || (i − n/8) % 3 == 2 (integer n/8), else the base type;
 *   - every other matrix → the base type (Q4_K / Q5_K); Q4_0 / Q6_K / Q8_0 files: the base type throughout
 *     (Q4_0's output.weight → Q6_K).
 *   - rows that are not whole blocks fall back to Q8_0 when whole 32-blocks, else to the checkpoint's dtype
 *     (llama.cpp falls back to Q5_0 / Q5_1 / Q8_0 by type; the engine has no Q5_0).
 * Norms stay F32 and MoE routers their float dtype (the writer's rule for every type).
 */
import { DTYPE_CODE, nativeBinding, type QuantDType } from '../native.js';

/** A quantized GGUF file type (`resident gguf --type`, `make-model --gguf-type`). */
export type GgufQuantType = 'q8_0' | 'q4_0' | 'q4_k_m' | 'q5_k_m' | 'q6_k';
export const GGUF_QUANT_TYPES: readonly GgufQuantType[] = ['q8_0', 'q4_0', 'q4_k_m', 'q5_k_m', 'q6_k'];

/** Values and bytes per block (ggml's layouts). */
export const QUANT_BLOCK: Record<QuantDType, { elems: number; bytes: number }> = {
  q8_0: { elems: 32, bytes: 34 },
  q4_0: { elems: 32, bytes: 18 },
  q4_k: { elems: 256, bytes: 144 },
  q5_k: { elems: 256, bytes: 176 },
  q6_k: { elems: 256, bytes: 210 },
};
/** ggml_type ids. */
export const QUANT_GGML_TYPE: Record<QuantDType, number> = { q8_0: 8, q4_0: 2, q4_k: 12, q5_k: 13, q6_k: 14 };
/** llama_ftype ids (general.file_type). */
export const QUANT_FILE_TYPE: Record<GgufQuantType, number> = { q8_0: 7, q4_0: 2, q4_k_m: 15, q5_k_m: 17, q6_k: 18 };
const BASE: Record<GgufQuantType, QuantDType> = { q8_0: 'q8_0', q4_0: 'q4_0', q4_k_m: 'q4_k', q5_k_m: 'q5_k', q6_k: 'q6_k' };

export function isQuantDType(t: string): t is QuantDType {
  return t in QUANT_BLOCK;
}
export function isGgufQuantType(t: string): t is GgufQuantType {
  return (GGUF_QUANT_TYPES as readonly string[]).includes(t);
}
export function baseQuantType(ft: GgufQuantType): QuantDType {
  return BASE[ft];
}

const useMoreBits = (i: number, n: number): boolean => {
  const e = Math.floor(n / 8);
  return i < e || i >= Math.floor((7 * n) / 8) || (i - e) % 3 === 2;
};

/** Where a tensor sits, for the mix: its attention-layer index among `nAttnV` attn_v tensors (attn_v only). */
export interface MixContext {
  nLayers: number;
  tied: boolean;
  attnVIndex?: number;
  nAttnV: number;
}

/** The type of GGUF tensor `name` (a matrix the file type quantizes) in file type ft; see the module comment. */
export function mixedType(ft: GgufQuantType, name: string, ctx: MixContext): QuantDType {
  const base = BASE[ft];
  if (name === 'output.weight' || (ctx.tied && name === 'token_embd.weight')) return ft === 'q8_0' ? 'q8_0' : 'q6_k';
  if (ft !== 'q4_k_m' && ft !== 'q5_k_m') return base;
  if (/\.attn_v\.weight$/.test(name) && ctx.attnVIndex !== undefined) return useMoreBits(ctx.attnVIndex, ctx.nAttnV) ? 'q6_k' : base;
  const down = /^blk\.(\d+)\.ffn_down(_exps|_shexp)?\.weight$/.exec(name);
  if (down) return useMoreBits(Number(down[1]), ctx.nLayers) ? 'q6_k' : base;
  return base;
}

/** x (a whole number of blocks) as blocks of type t, through the native quantizer. */
export function quantizeBlocks(t: QuantDType, x: Float32Array): Uint8Array {
  return nativeBinding().quantizeRows(DTYPE_CODE[t], x, QUANT_BLOCK[t].elems);
}
