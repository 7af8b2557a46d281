/**
 * ggml tensor types as GGUF files store them: id → name, block size (values) and block bytes, and which of them
 * the engine binds (`TensorDType`). A row of k values (k % blockSize == 0) takes k / blockSize · blockBytes bytes.
 */
import type { TensorDType } from './model-spec.js';

/** One ggml type: its name as llama.cpp prints it, values per block and bytes per block. */
export interface GgmlTypeInfo {
  id: number;
  name: string;
  blockSize: number;
  blockBytes: number;
  /** The engine's name for the type when it binds it (absent: refused with UnsupportedModelError). */
  engine?: TensorDType;
}

const T = (id: number, name: string, blockSize: number, blockBytes: number, engine?: TensorDType): GgmlTypeInfo =>
  engine ? { id, name, blockSize, blockBytes, engine } : { id, name, blockSize, blockBytes };

/** Every ggml type id llama.cpp defines (ggml.h), with its block layout. */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  [
    T(0, 'F32', 1, 4, 'f32'), T(1, 'F16', 1, 2, 'f16'), T(2, 'Q4_0', 32, 18, 'q4_0'), T(3, 'Q4_1', 32, 20), T(6, 'Q5_0', 32, 22),
    T(7, 'Q5_1', 32, 24), T(8, 'Q8_0', 32, 34, 'q8_0'), T(9, 'Q8_1', 32, 36), T(10, 'Q2_K', 256, 84), T(11, 'Q3_K', 256, 110),
    T(12, 'Q4_K', 256, 144, 'q4_k'), T(13, 'Q5_K', 256, 176, 'q5_k'), T(14, 'Q6_K', 256, 210, 'q6_k'), T(15, 'Q8_K', 256, 292),
    T(16, 'IQ2_XXS', 256, 66), T(17, 'IQ2_XS', 256, 74), T(18, 'IQ3_XXS', 256, 98), T(19, 'IQ1_S', 256, 50), T(20, 'IQ4_NL', 32, 18),
    T(21, 'IQ3_S', 256, 110), T(22, 'IQ2_S', 256, 82), T(23, 'IQ4_XS', 256, 136), T(24, 'I8', 1, 1), T(25, 'I16', 1, 2),
    T(26, 'I32', 1, 4), T(27, 'I64', 1, 8), T(28, 'F64', 1, 8), T(29, 'IQ1_M', 256, 56), T(30, 'BF16', 1, 2, 'bf16'),
    T(34, 'TQ1_0', 256, 54), T(35, 'TQ2_0', 256, 66), T(39, 'MXFP4', 32, 17),
  ].map((t) => [t.id, t]),
);

/** The ggml type of an engine dtype. */
export function ggmlTypeOf(dtype: TensorDType): GgmlTypeInfo {
  for (const t of GGML_TYPES.values()) if (t.engine === dtype) return t;
  throw new Error(`no ggml type for ${dtype}`);
}

/** Bytes of one row of `k` values of `type`, or undefined when k is not a whole number of blocks. */
export function rowBytes(type: GgmlTypeInfo, k: number): number | undefined {
  return k % type.blockSize === 0 ? (k / type.blockSize) * type.blockBytes : undefined;
}

/** Human-readable type name of an id ('type 99' when unknown). */
export function ggmlTypeName(id: number): string {
  return GGML_TYPES.get(id)?.name ?? `type ${id}`;
}
