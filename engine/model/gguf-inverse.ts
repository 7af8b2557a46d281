/**
 * Inverses of the tensor rewrites convert_hf_to_gguf.py (and engine/synth/gguf-hybrid.ts) apply to Qwen3.5 hybrids,
 * so the engine binds the checkpoint's own values:
 *  - zero-centred norms stored as 1 + w → w' = v − 1 (exact in f32 for v in [0.5, 2]; the engine's 1 + w' is v again);
 *  - ssm_a = −exp(A_log) → A_log = log(−a), the bf16 value when it maps back to a within one f32 ulp (BF16
 *    checkpoints), else the f32 value;
 *  - value heads in tiled order (j·nk + g) → grouped order (g·r + j): rows of any type (whole rows move), columns
 *    in head-sized groups (float types, or quantized blocks when a head is whole blocks; else the tensor is bound
 *    dequantized, gguf-tensors.ts).
 */
import { UnsupportedModelError } from '../errors.js';
import { bf16ToNumber, bitsToBf16, decodeToF32 } from './float-convert.js';
import type { GgmlTypeInfo } from './gguf-types.js';
import type { WeightDType } from './model-spec.js';

/** p with p[new] = old: the writer's grouped → tiled order of `nv` value heads of `hd` entries (nk key heads). */
export function tiledOrder(nk: number, nv: number, hd: number): Int32Array {
  const per = nv / nk;
  const p = new Int32Array(nv * hd);
  for (let r = 0; r < per; r++) for (let g = 0; g < nk; g++) for (let d = 0; d < hd; d++) p[(r * nk + g) * hd + d] = (g * per + r) * hd + d;
  return p;
}

/** Values of a float tensor's bytes as f32. */
export function floatValues(type: GgmlTypeInfo, bytes: Uint8Array, file: string, name: string): Float32Array {
  const dt = type.engine;
  if (dt !== 'f32' && dt !== 'f16' && dt !== 'bf16') throw new UnsupportedModelError(`${file}: tensor '${name}' is ${type.name}; it must be F32, F16 or BF16`, file, name);
  return decodeToF32(dt as WeightDType, bytes);
}

/** f32 bytes of values. */
export const f32Bytes = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** Zero-centred norm: stored 1 + w → w'. */
export function minusOne(v: Float32Array): Float32Array {
  return v.map((x) => x - 1);
}

/** A_log from ssm_a = −exp(A_log). */
export function aLogFromA(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  const f = new Float32Array(1);
  for (let i = 0; i < a.length; i++) {
    const y = Math.log(-a[i]!);
    const b = bf16ToNumber(bitsToBf16(new Uint32Array(new Float32Array([y]).buffer)[0]!));
    f[0] = -Math.exp(b);
    const ulp = Math.abs(a[i]!) * 2 ** -23;
    out[i] = Math.abs(f[0] - a[i]!) <= ulp ? b : y;
  }
  return out;
}

/** Rows [from, from + p.length/rowsPerUnit…) restored: stored row `from + j` is original row `from + p[j]`. `rowBytes` per row. */
export function ungroupRows(bytes: Uint8Array, rowBytes: number, from: number, p: Int32Array): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (Buffer.slice would be a view)
  for (let j = 0; j < p.length; j++) out.set(bytes.subarray((from + j) * rowBytes, (from + j + 1) * rowBytes), (from + p[j]!) * rowBytes);
  return out;
}

/**
 * Columns restored in every row: stored head j (hd columns) is original head ph[j], where ph is the head-level order.
 * `headBytes` = bytes of hd columns in the row's encoding (float: hd · size; quantized: hd / blockSize · blockBytes).
 */
export function ungroupColumns(bytes: Uint8Array, rowBytes: number, headBytes: number, ph: Int32Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let r = 0; r < bytes.length / rowBytes; r++) {
    const base = r * rowBytes;
    for (let j = 0; j < ph.length; j++) out.set(bytes.subarray(base + j * headBytes, base + (j + 1) * headBytes), base + ph[j]! * headBytes);
  }
  return out;
}
