/**
 * Test views of a quantized GGUF written by engine/synth/gguf-writer.ts for a Qwen3 / Qwen3-MoE folder, in Hugging
 * Face tensor names (a minimal name map for these two architectures; the real GGUF loader is engine/model's):
 *   - quantizedSpec: the folder's ModelSpec with every tensor pointing into the GGUF's data in the GGUF's type, so
 *     the native engine runs the file's mixed block types (each MoE expert a slice of the stacked tensor);
 *   - dequantizedFolder: an F32 safetensors folder holding the GGUF's values as the float64 reference dequantizer
 *     (gguf-quant-reference.ts) reads them, for a native engine on the same weights without block types.
 */
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToF32 } from '../../engine/model/float-convert.js';
import { readGgufHeader, type GgufTensorInfo } from '../../engine/model/gguf-reader.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec, TensorRef, WeightDType } from '../../engine/model/model-spec.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';
import { buildFolderOnce } from '../../engine/synth/generated-folder.js';
import { BLOCK, dequantize, type QuantType } from './gguf-quant-reference.js';

const GGML: Record<number, QuantType | WeightDType> = { 0: 'f32', 1: 'f16', 30: 'bf16', 8: 'q8_0', 2: 'q4_0', 12: 'q4_k', 13: 'q5_k', 14: 'q6_k' };

/** GGUF name and expert index of an HF tensor name (qwen3 / qwen3moe). */
function ggufName(hf: string): { name: string; expert?: number } {
  const fixed: Record<string, string> = { 'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight' };
  if (fixed[hf]) return { name: fixed[hf]! };
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (!m) throw new Error(`no GGUF name for ${hf}`);
  const b = `blk.${m[1]}.`, rest = m[2]!;
  const ex = /^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(rest);
  if (ex) return { name: `${b}ffn_${ex[2]}_exps.weight`, expert: Number(ex[1]) };
  const map: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight',
    'self_attn.o_proj.weight': 'attn_output.weight', 'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight', 'mlp.gate.weight': 'ffn_gate_inp.weight',
  };
  if (!map[rest]) throw new Error(`no GGUF name for ${hf}`);
  return { name: b + map[rest]! };
}

function bytesOf(type: QuantType | WeightDType, values: number): number {
  return type in BLOCK ? (values / BLOCK[type as QuantType].elems) * BLOCK[type as QuantType].bytes : values * (type === 'f32' ? 4 : 2);
}

/** Each HF tensor of the folder's spec located in the GGUF: its type and byte range. */
export async function locate(dir: string, gguf: string): Promise<{ spec: ModelSpec; refs: (TensorRef & { type: QuantType | WeightDType })[] }> {
  const spec = await loadModelSpec(dir);
  const h = readGgufHeader(gguf);
  const byName = new Map<string, GgufTensorInfo>(h.tensors.map((t) => [t.name, t]));
  const refs = spec.tensors.map((t) => {
    const { name, expert } = ggufName(t.name);
    const g = byName.get(name);
    if (!g) throw new Error(`${gguf}: no tensor ${name} (for ${t.name})`);
    const type = GGML[g.type];
    if (!type) throw new Error(`${gguf}: ${name} has ggml type ${g.type}`);
    const values = t.shape.reduce((a, b) => a * b, 1), nbytes = bytesOf(type, values);
    return { ...t, type, offset: h.dataOffset + g.offset + (expert ?? 0) * nbytes, nbytes, file: gguf };
  });
  return { spec, refs };
}

/** The folder's spec running on the GGUF's tensors in their own types (block types cast through TensorRef's float dtype field). */
export async function quantizedSpec(dir: string, gguf: string): Promise<ModelSpec> {
  const { spec, refs } = await locate(dir, gguf);
  const tensors = refs.map(({ type, ...t }) => ({ ...t, dtype: type as WeightDType }));
  return { ...spec, tensors, fingerprint: `${spec.fingerprint}+${gguf}` };
}

/** Per HF tensor: its values as stored in the GGUF (block types through the reference dequantizer). */
export async function ggufValues(dir: string, gguf: string): Promise<Map<string, { type: string; values: Float64Array | Float32Array; shape: number[] }>> {
  const { refs } = await locate(dir, gguf);
  const fd = openSync(gguf, 'r');
  try {
    const out = new Map<string, { type: string; values: Float64Array | Float32Array; shape: number[] }>();
    for (const r of refs) {
      const buf = Buffer.alloc(r.nbytes);
      readSync(fd, buf, 0, r.nbytes, r.offset);
      const n = r.shape.reduce((a, b) => a * b, 1);
      out.set(r.name, { type: r.type, shape: r.shape, values: r.type in BLOCK ? dequantize(r.type as QuantType, buf, n) : decodeToF32(r.type as WeightDType, buf) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Writes (once) `out`: the folder `dir` with the GGUF's values as F32 weights; returns `out`. */
export async function dequantizedFolder(dir: string, gguf: string, out: string): Promise<string> {
  await buildFolderOnce(out, 'model.safetensors', async (tmp) => {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(tmp, f));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    config.torch_dtype = 'float32';
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2));
    const values = await ggufValues(dir, gguf);
    const tensors = [...values].map(([name, v]) => ({ name, shape: v.shape, data: Float32Array.from(v.values) }));
    const { prefix } = buildSafetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: 'f32' as const, shape: t.shape })));
    writeFileSync(join(tmp, 'model.safetensors'), Buffer.concat([prefix, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]));
  });
  return out;
}
