/**
 * GGUF v3 constants shared by the writer (engine/synth/gguf-writer.ts) and the reader
 * (engine/model/gguf-reader.ts). Layout: "GGUF" magic (u32 LE), u32 version, u64 tensor count,
 * u64 key/value count, the key/values, the tensor infos, padding to `general.alignment`, tensor data.
 */

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The GGUF version we write and the newest we read. */
export const GGUF_VERSION = 3;
/** Alignment of tensor data when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types (gguf_type). */
export const GgufValueType = {
  U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12,
} as const;
export type GgufValueTypeId = (typeof GgufValueType)[keyof typeof GgufValueType];

/** llama.cpp token types (`tokenizer.ggml.token_type`). */
export const GgufTokenType = {
  NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6,
} as const;

/** ggml tensor type ids of the dtypes we write. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
