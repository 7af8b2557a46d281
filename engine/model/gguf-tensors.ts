/**
 * GGUF tensors → the engine's binding names (Hugging Face names, row-major shapes, as hf-model.ts expects them).
 * GGUF dims are fastest-first: HF shape = reversed ne. Stacked experts (ffn_*_exps, ne [cols, rows, E]) become one
 * TensorRef per expert (a byte range of the stack) for qwen3moe / minimax-m2, and `mlp.experts.gate_proj` /
 * `up_proj` / `down_proj` [E, rows, cols] for qwen35moe. Matrices are mapped as stored (any type the engine
 * binds, per tensor); the rewrites the converter applied to hybrids are inverted in memory (gguf-inverse.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { DTYPE_CODE, nativeBinding, type QuantDType } from '../native.js';
import { aLogFromA, f32Bytes, floatValues, minusOne, tiledOrder, ungroupColumns, ungroupRows } from './gguf-inverse.js';
import { GGML_TYPES, ggmlTypeName, type GgmlTypeInfo } from './gguf-types.js';
import { expectedTensors } from './hf-model.js';
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

type Source = { gguf: string; slice?: number; fix?: 'norm1' | 'alog' | 'rows' | 'cols' | 'rows1'; from?: number };

/** The GGUF source of each HF name (`blk.i.` for layer prefix `model.layers.i.`). */
function sourceOf(c: ModelConfig, name: string): Source | undefined {
  const hybrid = c.arch === 'qwen35' || c.arch === 'qwen35moe';
  const z = hybrid ? ('norm1' as const) : undefined;
  const withFix = (gguf: string, fix?: Source['fix'], from?: number): Source => ({ gguf, ...(fix ? { fix } : {}), ...(from !== undefined ? { from } : {}) });
  if (name === 'model.embed_tokens.weight') return withFix('token_embd.weight');
  if (name === 'model.norm.weight') return withFix('output_norm.weight', z);
  if (name === 'lm_head.weight') return withFix('output.weight');
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const b = `blk.${m[1]}.`;
  const rest = m[2]!;
  const ex = /^(?:mlp|block_sparse_moe)\.experts\.(\d+)\.(\w+)\.weight$/.exec(rest);
  if (ex) {
    const part = ({ gate_proj: 'gate', up_proj: 'up', down_proj: 'down', w1: 'gate', w3: 'up', w2: 'down' } as Record<string, string>)[ex[2]!];
    return part ? { gguf: `${b}ffn_${part}_exps.weight`, slice: Number(ex[1]) } : undefined;
  }
  const la = c.linearAttention;
  const vFrom = la ? 2 * la.numKeyHeads * la.keyHeadDim : 0;
  const table: Record<string, Source> = {
    'input_layernorm.weight': withFix(`${b}attn_norm.weight`, z),
    'post_attention_layernorm.weight': withFix(hybrid ? `${b}post_attention_norm.weight` : `${b}ffn_norm.weight`, z),
    'self_attn.q_proj.weight': withFix(`${b}attn_q.weight`),
    'self_attn.k_proj.weight': withFix(`${b}attn_k.weight`),
    'self_attn.v_proj.weight': withFix(`${b}attn_v.weight`),
    'self_attn.o_proj.weight': withFix(`${b}attn_output.weight`),
    'self_attn.q_norm.weight': withFix(`${b}attn_q_norm.weight`, z),
    'self_attn.k_norm.weight': withFix(`${b}attn_k_norm.weight`, z),
    'mlp.gate_proj.weight': withFix(`${b}ffn_gate.weight`),
    'mlp.up_proj.weight': withFix(`${b}ffn_up.weight`),
    'mlp.down_proj.weight': withFix(`${b}ffn_down.weight`),
    'mlp.gate.weight': withFix(`${b}ffn_gate_inp.weight`),
    'block_sparse_moe.gate.weight': withFix(`${b}ffn_gate_inp.weight`),
    'block_sparse_moe.e_score_correction_bias': withFix(`${b}exp_probs_b.bias`),
    'mlp.experts.gate_proj': withFix(`${b}ffn_gate_exps.weight`),
    'mlp.experts.up_proj': withFix(`${b}ffn_up_exps.weight`),
    'mlp.experts.down_proj': withFix(`${b}ffn_down_exps.weight`),
    'mlp.shared_expert.gate_proj.weight': withFix(`${b}ffn_gate_shexp.weight`),
    'mlp.shared_expert.up_proj.weight': withFix(`${b}ffn_up_shexp.weight`),
    'mlp.shared_expert.down_proj.weight': withFix(`${b}ffn_down_shexp.weight`),
    'mlp.shared_expert_gate.weight': withFix(`${b}ffn_gate_inp_shexp.weight`),
    'linear_attn.in_proj_qkv.weight': withFix(`${b}attn_qkv.weight`, 'rows', vFrom),
    'linear_attn.in_proj_z.weight': withFix(`${b}attn_gate.weight`, 'rows', 0),
    'linear_attn.in_proj_b.weight': withFix(`${b}ssm_beta.weight`, 'rows1', 0),
    'linear_attn.in_proj_a.weight': withFix(`${b}ssm_alpha.weight`, 'rows1', 0),
    'linear_attn.conv1d.weight': withFix(`${b}ssm_conv1d.weight`, 'rows', vFrom),
    'linear_attn.dt_bias': withFix(`${b}ssm_dt.bias`, 'rows1', 0),
    'linear_attn.A_log': withFix(`${b}ssm_a`, 'alog'),
    'linear_attn.norm.weight': withFix(`${b}ssm_norm.weight`),
    'linear_attn.out_proj.weight': withFix(`${b}ssm_out.weight`, 'cols'),
  };
  return table[rest];
}

/** The binding list: hf-model.ts's, with qwen35moe's fused gate_up_proj as separate gate / up stacks (GGUF keeps them apart). */
export function ggufBindingTensors(c: ModelConfig): ExpectedTensor[] {
  return expectedTensors(c).flatMap((e) => {
    if (!e.name.endsWith('.mlp.experts.gate_up_proj')) return [e];
    const [E, twoI, H] = e.shape as [number, number, number];
    const base = e.name.slice(0, -'gate_up_proj'.length);
    return [
      { ...e, name: `${base}gate_proj`, shape: [E, twoI / 2, H] },
      { ...e, name: `${base}up_proj`, shape: [E, twoI / 2, H] },
    ];
  });
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
  return ggufBindingTensors(c).map((e) => {
    const src = sourceOf(c, e.name);
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
