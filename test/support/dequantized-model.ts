/**
 * An independent reference for the engine's int8 weight mode: a copy of a model folder whose matmul
 * weights are replaced, in F32, by their int8 round trip (per 32 values: d = max|x| / 127,
 * q = round-half-even(x / d) clamped to ±127, value d·q, all in f32 arithmetic as the engine does).
 * A native engine on the copy must then compute what the int8 engine computes on the original.
 * Embeddings (row lookups), the MoE router and norms are copied unchanged; a tied lm_head becomes an
 * untied quantized copy of the embeddings, as the engine holds it.
 */
import { copyFileSync, existsSync, openSync, readFileSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToF32 } from '../../engine/model/float-convert.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';
import { buildFolderOnce } from '../../engine/synth/generated-folder.js';

function rintEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** x (a multiple of 32 values) through the engine's q8 quantize + dequantize. */
export function q8RoundTrip(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b + i]!));
    const d = Math.fround(amax / 127), inv = d > 0 ? Math.fround(1 / d) : 0;
    for (let i = 0; i < 32; i++) {
      const q = Math.max(-127, Math.min(127, rintEven(Math.fround(x[b + i]! * inv))));
      out[b + i] = Math.fround(d * q);
    }
  }
  return out;
}

const quantized = (name: string, shape: number[]) =>
  shape.length === 2 && shape[1]! % 32 === 0 && name !== 'model.embed_tokens.weight' && !name.endsWith('.mlp.gate.weight');

/** Writes (once, engine/synth/generated-folder.ts) `<dir>-int8ref`: the F32 reference folder of `dir` described above; returns its path. */
export async function ensureDequantizedModel(dir: string): Promise<string> {
  const out = `${dir}-int8ref`;
  await buildFolderOnce(out, 'model.safetensors', async (tmp) => {
    const spec = await loadModelSpec(dir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(tmp, f));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    config.torch_dtype = 'float32';
    config.tie_word_embeddings = false;
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2));
    const read = (t: (typeof spec.tensors)[number]) => {
      const fd = openSync(t.file, 'r');
      try {
        const buf = Buffer.alloc(t.nbytes);
        readSync(fd, buf, 0, t.nbytes, t.offset);
        return decodeToF32(t.dtype, buf);
      } finally {
        closeSync(fd);
      }
    };
    const tensors: { name: string; data: Float32Array; shape: number[] }[] = [];
    for (const t of spec.tensors) {
      const x = read(t);
      tensors.push({ name: t.name, shape: t.shape, data: quantized(t.name, t.shape) ? q8RoundTrip(x) : x });
      if (t.name === 'model.embed_tokens.weight' && spec.config.tieWordEmbeddings) tensors.push({ name: 'lm_head.weight', shape: t.shape, data: q8RoundTrip(x) });
    }
    const { prefix } = buildSafetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: 'f32' as const, shape: t.shape })));
    writeFileSync(join(tmp, 'model.safetensors'), Buffer.concat([prefix, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]));
  });
  return out;
}
