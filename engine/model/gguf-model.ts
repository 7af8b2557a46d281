/**
 * Loads a GGUF model (`--model FILE.gguf`, a folder holding exactly one, or a split set `NAME-00001-of-000NN.gguf`)
 * into the same ModelSpec hf-model.ts makes of a Hugging Face folder: config from `<arch>.*` metadata
 * (gguf-config.ts), tensors bound by their HF names with per-tensor types (gguf-tensors.ts), data mmapped at
 * dataOffset + offset of each split. Only headers are read (plus the few tensors a hybrid's converter rewrote).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelLoadError } from '../errors.js';
import { ggufModelConfig } from './gguf-config.js';
import { readGgufHeader, type GgufHeader } from './gguf-reader.js';
import { ggufTensorRefs, type GgufTensorLoc } from './gguf-tensors.js';
import type { ModelSpec, TensorDType, WeightDType } from './model-spec.js';

const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * The GGUF files of a model path, first split first; undefined when the path is a Hugging Face folder (has
 * config.json) or names no GGUF. A folder must hold exactly one model: one .gguf or one split set.
 */
export function ggufModelFiles(pathIn: string): string[] | undefined {
  const path = resolve(pathIn);
  if (!existsSync(path)) return undefined;
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'config.json'))) return undefined;
    const ggufs = readdirSync(path).filter((f) => f.endsWith('.gguf')).sort();
    if (ggufs.length === 0) return undefined;
    const sets = new Set(ggufs.map((f) => SPLIT.exec(f)?.[1] ?? f));
    if (sets.size > 1) throw new ModelLoadError(`${path}: holds ${sets.size} GGUF models (${ggufs.join(', ')}); name one file with --model`, path);
    return splitSet(join(path, ggufs[0]!));
  }
  return path.endsWith('.gguf') ? splitSet(path) : undefined;
}

/** Every file of the split set `file` belongs to (just `file` when it is not a split). */
function splitSet(file: string): string[] {
  const m = SPLIT.exec(basename(file));
  if (!m) return [file];
  const n = Number(m[3]);
  if (n < 1) throw new ModelLoadError(`${file}: split count 0`, file);
  const files = Array.from({ length: n }, (_, i) => join(dirname(file), `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[3]}.gguf`));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new ModelLoadError(`${file}: split set of ${n} files lacks ${missing.map((f) => basename(f)).join(', ')}`, missing[0]);
  return files;
}

/** Checks split headers agree (split.no, split.count) and gathers every tensor with its absolute offset. */
function gatherTensors(headers: GgufHeader[]): Map<string, GgufTensorLoc> {
  const found = new Map<string, GgufTensorLoc>();
  headers.forEach((h, i) => {
    const m = h.metadata;
    if (headers.length > 1) {
      const no = m.has('split.no') ? m.number('split.no') : -1;
      const count = m.has('split.count') ? m.number('split.count') : -1;
      if (no !== i || count !== headers.length) throw new ModelLoadError(`${h.path}: split.no ${no} / split.count ${count}, expected ${i} / ${headers.length}`, h.path);
    }
    for (const t of h.tensors) {
      if (found.has(t.name)) throw new ModelLoadError(`${h.path}: tensor '${t.name}' appears twice in the split set`, h.path, t.name);
      found.set(t.name, { name: t.name, dims: t.dims, type: t.type, file: h.path, offset: h.dataOffset + t.offset });
    }
  });
  const first = headers[0]!.metadata;
  if (headers.length > 1 && first.has('split.tensors.count') && first.number('split.tensors.count') !== found.size) {
    throw new ModelLoadError(`${headers[0]!.path}: split.tensors.count ${first.number('split.tensors.count')} but the files hold ${found.size}`, headers[0]!.path);
  }
  return found;
}

/** The float dtype KV and activations follow: the float matrices' common dtype; 'f16' when any is quantized or they mix. */
function computeDtype(types: Set<TensorDType>): WeightDType {
  const floats = [...types].filter((t): t is WeightDType => t === 'f32' || t === 'f16' || t === 'bf16');
  return floats.length === 1 && floats.length === types.size ? floats[0]! : 'f16';
}

/**
 * Fingerprint of a GGUF model: config, tokenizer, and every bound tensor's name, type and shape (the type is what
 * separates two quantizations of the same weights), prefixed `gguf:` — never equal to a Hugging Face folder's, whose
 * hash also covers its files' sizes; a session's KV is only reused on a model loaded the same way from the same types.
 */
function fingerprint(spec: Omit<ModelSpec<TensorDType>, 'fingerprint'>, headers: GgufHeader[]): string {
  const hash = createHash('sha256');
  hash.update('gguf\n');
  hash.update(JSON.stringify(spec.config));
  const meta = headers[0]!.metadata;
  for (const k of ['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.merges', 'tokenizer.ggml.token_type', 'tokenizer.chat_template']) {
    const v = meta.get(k);
    hash.update(`\n${k}=`);
    if (v !== undefined) hash.update(typeof v === 'string' ? v : Array.isArray(v) ? v.join('\u0000') : String(Array.from(v as ArrayLike<number>)));
  }
  for (const t of spec.tensors) hash.update(`\n${t.name}:${t.dtype}:${t.shape.join('x')}:${t.nbytes}`);
  return `gguf:${hash.digest('hex')}`;
}

/** Loads and validates a GGUF model. Throws ModelLoadError / UnsupportedModelError naming the file and tensor. */
export async function loadGgufModelSpec(path: string): Promise<ModelSpec<TensorDType>> {
  const files = ggufModelFiles(path);
  if (!files) throw new ModelLoadError(`${resolve(path)}: not a GGUF model (a .gguf file, or a folder holding one)`, resolve(path));
  const headers = files.map((f) => readGgufHeader(f));
  const found = gatherTensors(headers);
  const embd = found.get('token_embd.weight');
  if (!embd || embd.dims.length !== 2) throw new ModelLoadError(`${files[0]}: missing 2-D tensor 'token_embd.weight'`, files[0], 'token_embd.weight');
  const config = ggufModelConfig(headers[0]!.metadata, { vocabSize: embd.dims[1]!, hasOutput: found.has('output.weight') });
  const sizes = new Map(files.map((f) => [f, statSync(f).size]));
  const tensors = ggufTensorRefs(config, found, sizes);
  // the matmul weights; routers and the shared-expert gate are F32 in converted files whatever the checkpoint was
  const small = /(conv1d\.weight|mlp\.gate\.weight|block_sparse_moe\.gate\.weight|shared_expert_gate\.weight)$/;
  const matrixNames = new Set(tensors.filter((t) => t.shape.length >= 2 && !small.test(t.name)).map((t) => t.name));
  const types = new Set(tensors.filter((t) => matrixNames.has(t.name)).map((t) => t.dtype));
  const partial = { dir: files[0]!, config, tensors, dtype: computeDtype(types), matrixTypes: [...types].sort(), format: 'gguf' as const };
  return { ...partial, fingerprint: fingerprint(partial, headers) };
}
