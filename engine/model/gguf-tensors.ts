/**
 * GGUF tensors → the engine's binding names (Hugging Face names, row-major shapes, as hf-model.ts expects them).
 * GGUF dims are fastest-first: HF shape = reversed ne. Which GGUF tensor feeds which name is the family's
 * (`ggufSource`, engine/model/families/): a stacked expert tensor (ffn_*_exps, ne [cols, rows, E]) becomes one
 * TensorRef per expert (a byte range of the stack, `slice`) or binds whole. Matrices are mapped as stored (any type
 * the engine binds, per tensor); the rewrites a converter applied (`fix`) are inverted in memory (gguf-inverse.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { DTYPE_CODE, nativeBinding, type QuantDType } from '../native.js';
import { aLogFromA, f32Bytes, floatValues, minusOne, tiledOrder, ungroupColumns, ungroupRows } from './gguf-inverse.js';
import { GGML_TYPES, ggmlTypeName, type GgmlTypeInfo } from './gguf-types.js';
import { familyOf } from './families/registry.js';
import type { ExpectedTensor, ModelConfig, TensorDType, TensorRef } from './model-spec.js';

/** A tensor of a (possibly split) GGUF: where its data starts in which file. */
export interface GgufTensorLoc {
  name: string;
  /** ggml ne[], fastest first. */
  dims: number[];
  type: number;
  file: string;
  /** Absolute byte offset in `file`. */
  offset: number;
}

/** The binding list of a config: its family's GGUF list where GGUF keeps tensors apart that the checkpoint fuses, else hf-model.ts's. */
export function ggufBindingTensors(c: ModelConfig): ExpectedTensor[] {
  const family = familyOf(c);
  return family.ggufBindingTensors?.(c) ?? family.expectedTensors(c);
}

const dropOnes = (s: number[]) => s.filter((d) => d !== 1);
const sameShape = (a: number[], b: number[]) => {
  const x = dropOnes(a), y = dropOnes(b);
  return x.length === y.length && x.every((d, i) => d === y[i]);
};

function readBytes(t: GgufTensorLoc, nbytes: number): Uint8Array {
  const buf = Buffer.alloc(nbytes);
  const fd = openSync(t.file, 'r');
  try {
    if (readSync(fd, buf, 0, nbytes, t.offset) !== nbytes) throw new ModelLoadError(`${t.file}: tensor '${t.name}' is truncated`, t.file, t.name);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** The TensorRefs of every tensor the config binds, from the GGUF tensors; names the file, tensor and type of any refusal. */
export function ggufTensorRefs(c: ModelConfig, found: ReadonlyMap<string, GgufTensorLoc>, fileSizes: ReadonlyMap<string, number>): TensorRef<TensorDType>[] {
  const la = c.linearAttention;
  const grouped = !!la && la.numValueHeads !== la.numKeyHeads;
  const family = familyOf(c);
  return ggufBindingTensors(c).map((e) => {
    const src = family.ggufSource(c, e.name);
    if (!src) throw new ModelLoadError(`no GGUF tensor maps to '${e.name}'`, undefined, e.name);
    const t = found.get(src.gguf);
    const anyFile = [...fileSizes.keys()][0]!;
    if (!t) throw new ModelLoadError(`${anyFile}: missing tensor '${src.gguf}' (for ${e.name}, shape [${e.shape.join(', ')}])`, anyFile, src.gguf);
    const type: GgmlTypeInfo | undefined = GGML_TYPES.get(t.type);
    if (!type?.engine) throw new UnsupportedModelError(`${t.file}: tensor '${t.name}' has ggml type ${ggmlTypeName(t.type)}, which the engine does not run`, t.file, t.name);
    if (e.kind !== 'matrix' && type.blockSize !== 1) throw new UnsupportedModelError(`${t.file}: tensor '${t.name}' is ${type.name}; norms and parameters must be F32, F16 or BF16`, t.file, t.name);
    const hf = [...t.dims].reverse();
    const wantFull = src.slice === undefined ? e.shape : [c.moe?.numExperts ?? 0, ...e.shape];
    if (!sameShape(hf, wantFull)) {
      throw new ModelLoadError(`${t.file}: tensor '${t.name}' has ne [${t.dims.join(', ')}], expected ne [${[...wantFull].reverse().join(', ')}] (for ${e.name})`, t.file, t.name);
    }
    const cols = t.dims[0]!;
    if (cols % type.blockSize !== 0) throw new ModelLoadError(`${t.file}: tensor '${t.name}' has rows of ${cols} values, not whole ${type.name} blocks`, t.file, t.name);
    const rowBytes = (cols / type.blockSize) * type.blockBytes;
    const rows = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const total = rows * rowBytes;
    if (t.offset + total > fileSizes.get(t.file)!) throw new ModelLoadError(`${t.file}: tensor '${t.name}' lies outside the file`, t.file, t.name);
    const ref: TensorRef<TensorDType> = { name: e.name, file: t.file, offset: t.offset, nbytes: total, dtype: type.engine, shape: [...e.shape] };
    if (src.slice !== undefined) {
      const per = total / wantFull[0]!;
      ref.offset += src.slice * per;
      ref.nbytes = per;
      return ref;
    }
    if (type.engine === 'f32' && /ffn_gate_inp(_shexp)?\.weight$/.test(t.name)) {
      // converters write routers as F32; holding a BF16 checkpoint's values they bind as that BF16 (the same values,
      // and the same kernel path as the Hugging Face folder's)
      const bf16 = bf16IfExact(readBytes(t, total));
      if (bf16) return { ...ref, file: `${t.file}#${e.name}`, offset: 0, nbytes: bf16.length, dtype: 'bf16', data: bf16 };
    }
    const fix = src.fix === 'rows' || src.fix === 'rows1' || src.fix === 'cols' ? (grouped ? src.fix : undefined) : src.fix;
    if (!fix) return ref;
    let data = readBytes(t, total);
    if (fix === 'norm1' || fix === 'alog') {
      const v = floatValues(type, data, t.file, t.name);
      data = f32Bytes(fix === 'norm1' ? minusOne(v) : aLogFromA(ungroupValues(v, la!)));
      ref.dtype = 'f32';
      ref.nbytes = data.length;
    } else if (fix === 'rows' || fix === 'rows1') {
      const hd = fix === 'rows' ? la!.valueHeadDim : 1;
      const unit = t.dims.length === 1 ? type.blockBytes : rowBytes; // a vector's "rows" are its values
      data = ungroupRows(data, unit, src.from!, tiledOrder(la!.numKeyHeads, la!.numValueHeads, hd));
    } else {
      const ph = tiledOrder(la!.numKeyHeads, la!.numValueHeads, 1);
      const hd = la!.valueHeadDim;
      if (hd % type.blockSize === 0) {
        data = ungroupColumns(data, rowBytes, (hd / type.blockSize) * type.blockBytes, ph);
      } else {
        // a value head is part of a block (heads of 128 in Q4_K's 256-blocks): dequantized, columns moved, then bound
        // as Q8_0 (its 32-blocks hold whole heads; ~2 % of a head's Q4_K step added) — as f32 when rows are not 32-blocks
        const native = nativeBinding();
        const values = native.dequantizeRows('portable', DTYPE_CODE[type.engine as QuantDType], data, rows * cols);
        const moved = ungroupColumns(f32Bytes(values), cols * 4, hd * 4, ph);
        const q8 = cols % 32 === 0;
        data = q8 ? native.quantizeRows(DTYPE_CODE.q8_0, new Float32Array(moved.buffer, moved.byteOffset, rows * cols), cols) : moved;
        ref.dtype = q8 ? 'q8_0' : 'f32';
        ref.nbytes = data.length;
      }
    }
    ref.data = data;
    ref.offset = 0;
    ref.file = `${t.file}#${e.name}`; // the native store keys mappings by file: one of its own per in-memory tensor
    return ref;
  });
}

/** Per-value-head f32 values (A) back in grouped order. */
function ungroupValues(v: Float32Array, la: NonNullable<ModelConfig['linearAttention']>): Float32Array {
  if (la.numValueHeads === la.numKeyHeads) return v;
  const p = tiledOrder(la.numKeyHeads, la.numValueHeads, 1);
  const out = new Float32Array(v.length);
  for (let j = 0; j < p.length; j++) out[p[j]!] = v[j]!;
  return out;
}

/** The bf16 bytes of f32 bytes whose every value is a bf16 (low 16 bits zero); undefined otherwise. */
function bf16IfExact(f32: Uint8Array): Uint8Array | undefined {
  const u = new Uint32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength));
  const out = new Uint16Array(u.length);
  for (let i = 0; i < u.length; i++) {
    if ((u[i]! & 0xffff) !== 0) return undefined;
    out[i] = u[i]! >>> 16;
  }
  return new Uint8Array(out.buffer);
}
