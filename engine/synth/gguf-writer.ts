/**
 * Converts a Hugging Face Qwen3 / Qwen3-MoE folder to GGUF v3 for llama.cpp (arch `qwen3` / `qwen3moe`; hybrids
 * `qwen35` / `qwen35moe` through gguf-hybrid.ts, `minimax-m2` through gguf-minimax.ts),
 * streaming the weights. Layout: "GGUF", u32 version 3, u64 n_tensors, u64 n_kv, the key/values,
 * the tensor infos (name, n_dims, ne[] with ne[0] = HF's last dim, ggml type, offset), padding to
 * `general.alignment`, then the tensor data (each at an aligned offset). Matrices keep the checkpoint's
 * dtype (same bytes, no transposition; Qwen3 uses NEOX RoPE in llama.cpp so Q/K are not permuted);
 * norm weights are written as F32; MoE experts are stacked into one 3-D tensor per projection.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { bitsToF16, decodeToF32, encodeInto } from '../model/float-convert.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType } from '../model/gguf-format.js';
import { isMoeLayer, loadModelSpec } from '../model/hf-model.js';
import type { ModelSpec, TensorRef, WeightDType } from '../model/model-spec.js';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import { ByteWriter, writeKv, type GgufValue } from './gguf-bytes.js';
import { hybridGgufTensors, hybridMetadata } from './gguf-hybrid.js';
import { tokenizerMetadata } from './gguf-tokenizer-meta.js';
import { baseQuantType, isQuantDType, mixedType, QUANT_BLOCK, QUANT_FILE_TYPE, QUANT_GGML_TYPE, quantizeBlocks, type GgufQuantType } from './gguf-quant.js';
import type { QuantDType } from '../native.js';
import { minimaxGgufTensors, minimaxMetadata } from './gguf-minimax.js';

export type { GgufValue } from './gguf-bytes.js';

const ALIGNMENT = GGUF_DEFAULT_ALIGNMENT;
/** A GGUF tensor type we write: the checkpoint's float types, or a block type (gguf-quant.ts; Q8_0: blocks of 32, f16 scale d, 32 int8, x ≈ d·q). */
export type GgufDType = WeightDType | QuantDType;
const GGML_TYPE: Record<GgufDType, number> = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16, ...QUANT_GGML_TYPE };
const FILE_TYPE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 32 };
const Q8_0_BLOCK = 32, Q8_0_BYTES = 34;

/**
 * One GGUF tensor: its data is the concatenation of `sources` (HF tensors, or byte ranges of one as TensorRefs with
 * narrowed offset/nbytes), converted to `dtype`; with `transform`, the single source's values (as f32, row-major) are
 * rewritten first.
 */
export interface GgufTensor {
  name: string;
  /** ggml ne[]: fastest-varying first. */
  ne: number[];
  dtype: GgufDType;
  sources: TensorRef[];
  nbytes: number;
  transform?: (x: Float32Array) => Float32Array;
}

/** A GGUF tensor of shape `ne` in dtype `want` (a block type only where rows are whole blocks, else Q8_0 where whole 32-blocks, else `fallback`). */
export function ggufTensor(name: string, ne: number[], want: GgufDType, fallback: WeightDType, sources: TensorRef[], transform?: GgufTensor['transform']): GgufTensor {
  const n = ne.reduce((a, b) => a * b, 1);
  let dtype: GgufDType = want;
  if (isQuantDType(dtype) && ne[0]! % QUANT_BLOCK[dtype].elems !== 0) dtype = ne[0]! % Q8_0_BLOCK === 0 ? 'q8_0' : fallback;
  const nbytes = isQuantDType(dtype) ? (n / QUANT_BLOCK[dtype].elems) * QUANT_BLOCK[dtype].bytes : n * (dtype === 'f32' ? 4 : 2);
  const t: GgufTensor = { name, ne, dtype, sources, nbytes };
  if (transform) t.transform = transform;
  return t;
}

/** The GGUF tensors of a spec, in llama.cpp names. */
function ggufTensors(spec: ModelSpec, matrixDtype: GgufDType = spec.dtype): GgufTensor[] {
  const c = spec.config;
  if (c.arch === 'qwen35' || c.arch === 'qwen35moe') return hybridGgufTensors(spec, matrixDtype);
  if (c.arch === 'minimax-m2') return minimaxGgufTensors(spec, matrixDtype);
  const byName = new Map(spec.tensors.map((t) => [t.name, t]));
  const get = (n: string) => byName.get(n)!;
  const out: GgufTensor[] = [];
  const add = (name: string, sources: TensorRef[], want: GgufDType) => {
    const ne = [...sources[0]!.shape].reverse();
    if (sources.length > 1) ne.push(sources.length);
    out.push(ggufTensor(name, ne, want, spec.dtype, sources));
  };
  const mat = (name: string, hf: string) => add(name, [get(hf)], matrixDtype);
  const norm = (name: string, hf: string) => add(name, [get(hf)], 'f32');
  mat('token_embd.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    const b = `blk.${i}.`;
    norm(`${b}attn_norm.weight`, `${p}input_layernorm.weight`);
    mat(`${b}attn_q.weight`, `${p}self_attn.q_proj.weight`);
    mat(`${b}attn_k.weight`, `${p}self_attn.k_proj.weight`);
    mat(`${b}attn_v.weight`, `${p}self_attn.v_proj.weight`);
    mat(`${b}attn_output.weight`, `${p}self_attn.o_proj.weight`);
    norm(`${b}attn_q_norm.weight`, `${p}self_attn.q_norm.weight`);
    norm(`${b}attn_k_norm.weight`, `${p}self_attn.k_norm.weight`);
    norm(`${b}ffn_norm.weight`, `${p}post_attention_layernorm.weight`);
    if (isMoeLayer(c, i)) {
      const E = c.moe!.numExperts;
      add(`${b}ffn_gate_inp.weight`, [get(`${p}mlp.gate.weight`)], isQuantDType(matrixDtype) ? spec.dtype : matrixDtype);  // the router is never quantized
      for (const [g, h] of [['gate', 'gate_proj'], ['up', 'up_proj'], ['down', 'down_proj']] as const) {
        add(`${b}ffn_${g}_exps.weight`, Array.from({ length: E }, (_, e) => get(`${p}mlp.experts.${e}.${h}.weight`)), matrixDtype);
      }
    } else {
      mat(`${b}ffn_gate.weight`, `${p}mlp.gate_proj.weight`);
      mat(`${b}ffn_up.weight`, `${p}mlp.up_proj.weight`);
      mat(`${b}ffn_down.weight`, `${p}mlp.down_proj.weight`);
    }
  }
  norm('output_norm.weight', 'model.norm.weight');
  if (!c.tieWordEmbeddings) mat('output.weight', 'lm_head.weight');
  return out;
}

/** Model metadata for the spec's architecture. */
function modelMetadata(spec: ModelSpec, name: string, fileType: number): [string, GgufValue][] {
  const c = spec.config;
  const a = c.arch;
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const kv: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: a }],
    ['general.name', { type: 'string', value: name }],
    ['general.alignment', u32(ALIGNMENT)],
    ['general.file_type', u32(fileType)],
    [`${a}.context_length`, u32(c.maxPositionEmbeddings)],
    [`${a}.embedding_length`, u32(c.hiddenSize)],
    [`${a}.block_count`, u32(c.nLayers)],
    ...(c.intermediateSize > 0 ? [[`${a}.feed_forward_length`, u32(c.intermediateSize)] as [string, GgufValue]] : []),
    [`${a}.attention.head_count`, u32(c.nHeads)],
    [`${a}.attention.head_count_kv`, u32(c.nKvHeads)],
    [`${a}.attention.key_length`, u32(c.headDim)],
    [`${a}.attention.value_length`, u32(c.headDim)],
    ...(c.ropeDim === undefined ? [[`${a}.rope.dimension_count`, u32(c.headDim)] as [string, GgufValue]] : []),
    [`${a}.rope.freq_base`, { type: 'f32', value: c.ropeTheta }],
    [`${a}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: c.rmsNormEps }],
  ];
  if (c.moe) {
    kv.push([`${a}.expert_count`, u32(c.moe.numExperts)]);
    kv.push([`${a}.expert_used_count`, u32(c.moe.numExpertsPerTok)]);
    kv.push([`${a}.expert_feed_forward_length`, u32(c.moe.moeIntermediateSize)]);
  }
  if (c.layerKinds) kv.push(...hybridMetadata(c, a));
  if (a === 'minimax-m2') kv.push(...minimaxMetadata(c, a));
  return kv;
}

const CHUNK_BYTES = 8 << 20;

/** Reads one whole source tensor as f32. */
function readAsF32(src: TensorRef): Float32Array {
  const raw = Buffer.alloc(src.nbytes);
  const sfd = openSync(src.file, 'r');
  try {
    if (readSync(sfd, raw, 0, src.nbytes, src.offset) !== src.nbytes) throw new ModelLoadError(`${src.file}: short read of '${src.name}'`, src.file, src.name);
  } finally {
    closeSync(sfd);
  }
  return decodeToF32(src.dtype, raw);
}

/** A transformed tensor's bytes (one source, rewritten as f32 values, then stored in t.dtype). */
function transformedData(t: GgufTensor): Uint8Array {
  const x = t.transform!(readAsF32(t.sources[0]!));
  const out = Buffer.alloc(t.nbytes);
  if (t.dtype === 'q8_0') quantizeQ8_0(x, out);
  else if (isQuantDType(t.dtype)) out.set(quantizeBlocks(t.dtype, x));
  else if (t.dtype === 'f32') Buffer.from(x.buffer, x.byteOffset, x.byteLength).copy(out);
  else encodeInto(t.dtype, x, out);
  return out;
}

/** The source tensors' data, copied (or converted, for F32 norm targets and Q8_0), chunk by chunk; buffers are reused. */
function* tensorData(t: GgufTensor): Generator<Uint8Array> {
  if (t.transform) {
    yield transformedData(t);
    return;
  }
  const buf = Buffer.alloc(CHUNK_BYTES);
  for (const src of t.sources) {
    const sfd = openSync(src.file, 'r');
    try {
      if (isQuantDType(t.dtype)) {
        const E = QUANT_BLOCK[t.dtype].elems, es = src.dtype === 'f32' ? 4 : 2, chunk = CHUNK_BYTES - (CHUNK_BYTES % (E * es));
        const out = Buffer.alloc((chunk / es / Q8_0_BLOCK) * Q8_0_BYTES);
        for (let done = 0; done < src.nbytes; ) {
          const n = readSync(sfd, buf, 0, Math.min(chunk, src.nbytes - done), src.offset + done);
          if (n === 0 || n % (E * es) !== 0) throw new ModelLoadError(`${src.file}: short read of '${src.name}'`, src.file, src.name);
          const x = decodeToF32(src.dtype, buf.subarray(0, n));
          yield t.dtype === 'q8_0' ? out.subarray(0, quantizeQ8_0(x, out)) : quantizeBlocks(t.dtype, x);
          done += n;
        }
      } else if (src.dtype === t.dtype) {
        for (let done = 0; done < src.nbytes; ) {
          const n = readSync(sfd, buf, 0, Math.min(CHUNK_BYTES, src.nbytes - done), src.offset + done);
          if (n === 0) throw new ModelLoadError(`${src.file}: short read of '${src.name}'`, src.file, src.name);
          yield buf.subarray(0, n);
          done += n;
        }
      } else {
        if (t.dtype !== 'f32') throw new ModelLoadError(`cannot convert '${src.name}' from ${src.dtype} to ${t.dtype}`, src.file, src.name);
        const raw = Buffer.alloc(src.nbytes); // norms, or matrices upcast for tests: one tensor at a time
        if (readSync(sfd, raw, 0, src.nbytes, src.offset) !== src.nbytes) throw new ModelLoadError(`${src.file}: short read of '${src.name}'`, src.file, src.name);
        const f = decodeToF32(src.dtype, raw);
        yield new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      }
    } finally {
      closeSync(sfd);
    }
  }
}

/** Writes x (a multiple of 32 values) as Q8_0 blocks into out: d = max|x| / 127 (stored as f16), q = round(x / d). Returns bytes written. */
export function quantizeQ8_0(x: Float32Array, out: Buffer): number {
  const bits = new Uint32Array(new Float32Array([0]).buffer), f = new Float32Array(bits.buffer);
  let o = 0;
  for (let b = 0; b < x.length; b += Q8_0_BLOCK, o += Q8_0_BYTES) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(x[b + i]!));
    f[0] = amax / 127;
    const inv = f[0] ? 1 / f[0] : 0;
    out.writeUInt16LE(bitsToF16(bits[0]!), o);
    for (let i = 0; i < Q8_0_BLOCK; i++) out.writeInt8(Math.max(-127, Math.min(127, Math.round(x[b + i]! * inv))), o + 2 + i);
  }
  return o;
}

/**
 * Writes `out` (atomically, engine/util/atomic-file.ts) as the GGUF of the Hugging Face folder `dir`.
 * `matrixDtype: 'f32'` upcasts BF16/F16 matrices exactly (same values), so llama.cpp computes in F32;
 * `'q8_0'` quantizes every matrix whose rows are whole 32-blocks (not the MoE router) as llama-quantize's Q8_0 does;
 * `'q4_0' | 'q4_k_m' | 'q5_k_m' | 'q6_k'` quantize the matrices with llama.cpp's mix for that file type (gguf-quant.ts);
 * `quantize` (tests localising quantization effects) keeps the matrices whose GGUF name it rejects in F32.
 */
export async function writeGgufFromFolder(
  dir: string,
  out: string,
  opts: { name?: string; matrixDtype?: 'f32' | GgufQuantType; quantize?: (ggufName: string) => boolean } = {},
): Promise<{ tensors: number; bytes: number; types: Record<string, number> }> {
  const spec = await loadModelSpec(dir);
  const converted = spec.tensors.find((t) => Object.getOwnPropertyDescriptor(t, 'data'));
  if (converted) throw new UnsupportedModelError(`${dir}: tensor '${converted.name}' is converted at load (FP8 or per-expert checkpoint); GGUF conversion reads stored float tensors only`, converted.file, converted.name);
  const c = spec.config;
  const ft = opts.matrixDtype === undefined || opts.matrixDtype === 'f32' ? undefined : opts.matrixDtype;
  const matrixDtype: GgufDType = ft ? baseQuantType(ft) : (opts.matrixDtype as 'f32' | undefined) ?? spec.dtype;
  let tensors = ggufTensors(spec, matrixDtype);
  if (ft) tensors = applyMix(tensors, ft, spec);
  const keep = opts.quantize;
  if (keep) tensors = tensors.map((t) => (isQuantDType(t.dtype) && !keep(t.name) ? ggufTensor(t.name, t.ne, 'f32', spec.dtype, t.sources, t.transform) : t));
  const types: Record<string, number> = {};
  for (const t of tensors) types[t.dtype] = (types[t.dtype] ?? 0) + 1;
  const kv = [
    ...modelMetadata(spec, opts.name ?? 'resident-model', ft ? QUANT_FILE_TYPE[ft] : FILE_TYPE[matrixDtype as WeightDType]),
    ...tokenizerMetadata(dir, c.vocabSize, { bos: c.bosTokenId, eos: c.eosTokenIds[0] }),
  ];
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const [k, v] of kv) writeKv(w, k, v);
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(GGML_TYPE[t.dtype]);
    w.u64(offset);
    offset += t.nbytes;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  }
  w.pad(ALIGNMENT);
  function* chunks(): Generator<Uint8Array> {
    yield w.buffer();
    const zeros = Buffer.alloc(ALIGNMENT);
    for (const t of tensors) {
      yield* tensorData(t);
      const pad = (ALIGNMENT - (t.nbytes % ALIGNMENT)) % ALIGNMENT;
      if (pad) yield zeros.subarray(0, pad);
    }
  }
  writeFileAtomicSync(out, chunks());
  return { tensors: tensors.length, bytes: w.length + offset, types };
}

/** Re-types the quantized matrices of `tensors` (those in the file type's base type) by llama.cpp's mix (gguf-quant.ts). */
function applyMix(tensors: GgufTensor[], ft: GgufQuantType, spec: ModelSpec): GgufTensor[] {
  const base = baseQuantType(ft);
  const attnV = tensors.filter((t) => t.name.endsWith('.attn_v.weight')).map((t) => t.name);
  const ctx = { nLayers: spec.config.nLayers, tied: spec.config.tieWordEmbeddings, nAttnV: attnV.length };
  return tensors.map((t) => {
    if (t.dtype !== base && !(t.dtype === 'q8_0' && t.ne[0]! % QUANT_BLOCK[base].elems !== 0)) return t;
    const i = attnV.indexOf(t.name);
    const want = mixedType(ft, t.name, { ...ctx, ...(i >= 0 ? { attnVIndex: i } : {}) });
    return want === t.dtype ? t : ggufTensor(t.name, t.ne, want, spec.dtype, t.sources, t.transform);
  });
}
