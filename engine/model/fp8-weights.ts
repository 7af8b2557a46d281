/**
 * Block-scaled FP8 checkpoints as Qwen (and DeepSeek) publish them: config.json carries
 * `quantization_config: {quant_method: "fp8", fmt: "e4m3", activation_scheme: "dynamic", weight_block_size: [128, 128]}`
 * (+ `modules_to_not_convert`); each quantized matrix `<x>` is stored F8_E4M3 with `<x>_scale_inv` beside it
 * (F32 or BF16, shape [...lead, ⌈rows/128⌉, ⌈cols/128⌉]); its real value is code value × the scale of its block.
 * Embeddings, norms, lm_head, routers etc. stay BF16 (the tensor's stored dtype decides, not the module list).
 *
 * At load every F8_E4M3 matrix becomes a BF16 TensorRef whose `data` getter converts it when read (value × scale,
 * rounded once to BF16): the spec holds no converted bytes, so the copy lives only while the engine takes it in.
 * Headers (presence, shapes, dtypes of the scales) are checked here; NaN codes and bad scale values when converting.
 */
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { decodeToF64 } from './float-convert.js';
import { dequantizeE4m3Blocks, E4M3_MAX, f64ToBf16, firstE4m3Nan, Fp8NanError } from './fp8-e4m3.js';
import type { ModelConfig, TensorRef, WeightDType } from './model-spec.js';
import { fusePerExpertTensors } from './qwen35-experts.js';
import type { StoredTensorRef } from './safetensors.js';
import { readFileRange } from './tensor-bytes.js';

/** A validated fp8 quantization_config. */
export interface Fp8Config {
  /** weight_block_size: rows × columns of one scale block. */
  block: [number, number];
  /** Stable description for the fingerprint. */
  tag: string;
}

/** The checkpoint's tensors once resolved to what the engine binds (float dtypes only). */
export interface ResolvedTensors {
  tensors: Map<string, TensorRef<WeightDType>>;
  /** Set for FP8 checkpoints: goes into the model fingerprint. */
  fingerprintTag?: string;
}

/** Parses `quantization_config` (top level, or under text_config); undefined when absent. Throws UnsupportedModelError naming the field. */
export function parseFp8Config(raw: Record<string, unknown>, file: string): Fp8Config | undefined {
  const text = raw.text_config as Record<string, unknown> | undefined;
  const q = (raw.quantization_config ?? text?.quantization_config) as Record<string, unknown> | null | undefined;
  if (q == null) return undefined;
  const refuse = (field: string, why: string): never => {
    throw new UnsupportedModelError(`${file}: quantization_config.${field} ${why}; supported: {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [rows, cols]}`, file);
  };
  if (typeof q !== 'object' || Array.isArray(q)) refuse('', 'is not an object');
  const str = (v: unknown) => JSON.stringify(v);
  if (q.quant_method !== 'fp8') refuse('quant_method', `${str(q.quant_method)} is not supported`);
  if (q.fmt !== undefined && q.fmt !== 'e4m3') refuse('fmt', `${str(q.fmt)} is not supported`);
  if (q.activation_scheme !== undefined && q.activation_scheme !== 'dynamic') refuse('activation_scheme', `${str(q.activation_scheme)} is not supported (static input scales)`);
  if (q.scale_fmt !== undefined && q.scale_fmt !== 'float32') refuse('scale_fmt', `${str(q.scale_fmt)} is not supported`);
  const b = q.weight_block_size;
  if (!Array.isArray(b) || b.length !== 2 || !b.every((d) => Number.isSafeInteger(d) && d > 0)) refuse('weight_block_size', `${str(b)} is not [rows, cols] of positive integers (per-tensor FP8 scales are not supported)`);
  const m = q.modules_to_not_convert;
  if (m != null && (!Array.isArray(m) || !m.every((x) => typeof x === 'string'))) refuse('modules_to_not_convert', 'is not a list of names');
  const block = b as [number, number];
  return { block, tag: `fp8-e4m3 blocks ${block[0]}x${block[1]}` };
}

const count = (shape: number[]) => shape.reduce((a, d) => a * d, 1);

/** Scale shape a weight of `shape` needs: [...lead, ⌈rows/br⌉, ⌈cols/bc⌉]. */
export function scaleShape(shape: number[], [br, bc]: [number, number]): number[] {
  const rows = shape[shape.length - 2]!, cols = shape[shape.length - 1]!;
  return [...shape.slice(0, -2), Math.ceil(rows / br), Math.ceil(cols / bc)];
}

/** The BF16 bytes of F8_E4M3 weight `w` with scales `s`; Fp8NanError / ModelLoadError naming the tensor for NaN codes or bad scales. */
export function dequantizeFp8Tensor(w: StoredTensorRef, s: StoredTensorRef, block: [number, number]): Uint8Array {
  const codes = readFileRange(w.file, w.offset, w.nbytes, w.name);
  const nan = firstE4m3Nan(codes);
  if (nan >= 0) throw new Fp8NanError(`${w.file}: tensor '${w.name}' holds the E4M3 NaN code 0x${codes[nan]!.toString(16)} at element ${nan}`, w.file, w.name);
  const scales = decodeToF64(s.dtype as WeightDType, readFileRange(s.file, s.offset, s.nbytes, s.name));
  for (let i = 0; i < scales.length; i++) {
    const v = scales[i]!;
    if (!Number.isFinite(v) || (f64ToBf16(E4M3_MAX * Math.abs(v)) & 0x7fff) === 0x7f80) throw new ModelLoadError(`${s.file}: scale ${v} at index ${i} of '${s.name}' is not finite or overflows BF16 (× 448)`, s.file, s.name);
  }
  const rows = w.shape[w.shape.length - 2]!, cols = w.shape[w.shape.length - 1]!;
  const bf16 = dequantizeE4m3Blocks(codes, scales, count(w.shape) / (rows * cols), rows, cols, block[0], block[1]);
  return new Uint8Array(bf16.buffer, bf16.byteOffset, bf16.byteLength);
}

/** A BF16 reference to `w` that converts when its `data` is read (file `<file>#<name>`, unique per tensor, as the engine expects of in-memory tensors). */
function convertedRef(w: StoredTensorRef, s: StoredTensorRef, block: [number, number]): TensorRef<WeightDType> {
  const ref: TensorRef<WeightDType> = { name: w.name, file: `${w.file}#${w.name}`, offset: 0, nbytes: count(w.shape) * 2, dtype: 'bf16', shape: w.shape };
  Object.defineProperty(ref, 'data', { enumerable: true, get: () => dequantizeFp8Tensor(w, s, block) });
  return ref;
}

/** Checks an F8_E4M3 tensor's companion scale tensor; returns it. */
function scaleFor(stored: Map<string, StoredTensorRef>, w: StoredTensorRef, block: [number, number]): StoredTensorRef {
  const sName = `${w.name}_scale_inv`;
  const s = stored.get(sName);
  if (!s) throw new ModelLoadError(`${w.file}: missing tensor '${sName}' (the block scales of F8_E4M3 tensor '${w.name}')`, w.file, sName);
  if (s.dtype !== 'f32' && s.dtype !== 'bf16') throw new UnsupportedModelError(`${s.file}: tensor '${sName}' is ${s.dtype}; block scales must be F32 or BF16`, s.file, sName);
  if (w.shape.length < 2) throw new UnsupportedModelError(`${w.file}: F8_E4M3 tensor '${w.name}' has shape [${w.shape.join(', ')}]; only matrices are block-quantized`, w.file, w.name);
  const want = scaleShape(w.shape, block);
  if (s.shape.length !== want.length || s.shape.some((d, i) => d !== want[i])) {
    throw new ModelLoadError(`${s.file}: tensor '${sName}' has shape [${s.shape.join(', ')}], expected [${want.join(', ')}] (blocks of ${block.join('×')} over '${w.name}' [${w.shape.join(', ')}])`, s.file, sName);
  }
  return s;
}

/**
 * Resolves a checkpoint's stored tensors: F8_E4M3 matrices become BF16 refs converted at load (their `_scale_inv`
 * companions are consumed), and Qwen3.5-MoE per-expert matrices are fused into the engine's 3-D expert tensors.
 * Throws UnsupportedModelError / ModelLoadError naming file and tensor (F8 tensors without quantization_config,
 * missing or misshapen scales, orphan scales).
 */
export function resolveStoredTensors(stored: Map<string, StoredTensorRef>, fp8: Fp8Config | undefined, config: ModelConfig): ResolvedTensors {
  const out = new Map<string, TensorRef<WeightDType>>();
  const consumed = new Set<string>();
  for (const [name, w] of stored) {
    if (w.dtype !== 'f8_e4m3') continue;
    if (!fp8) throw new UnsupportedModelError(`${w.file}: tensor '${name}' is F8_E4M3 but config.json has no quantization_config (fp8 with weight_block_size)`, w.file, name);
    const s = scaleFor(stored, w, fp8.block);
    consumed.add(s.name);
    out.set(name, convertedRef(w, s, fp8.block));
  }
  for (const [name, t] of stored) {
    if (out.has(name) || consumed.has(name)) continue;
    if (name.endsWith('_scale_inv')) {
      throw new ModelLoadError(`${t.file}: tensor '${name}' scales '${name.slice(0, -'_scale_inv'.length)}', which is not an F8_E4M3 tensor of the checkpoint`, t.file, name);
    }
    out.set(name, t as TensorRef<WeightDType>);
  }
  if (config.arch === 'qwen35moe') fusePerExpertTensors(out, config);
  return fp8 ? { tensors: out, fingerprintTag: fp8.tag } : { tensors: out };
}
