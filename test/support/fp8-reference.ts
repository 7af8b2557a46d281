/**
 * Independent readers of FP8 (e4m3, block-scaled) folders for tests: the exact dequantized weights in float64
 * (code value by the integer formula below × the block's scale, no rounding), fused as the engine binds them, and a
 * BF16 "twin" folder holding exactly those weights rounded to BF16 — what the loader must produce.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToF64 } from '../../engine/model/float-convert.js';
import { f64ToBf16 } from '../../engine/model/fp8-e4m3.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { buildSafetensorsHeader, readSafetensorsHeader } from '../../engine/model/safetensors.js';
import { buildFolderOnce } from '../../engine/synth/generated-folder.js';
import { readBytes } from './read-bytes.js';
import type { ReferenceModel } from './reference-forward.js';

/** E4M3 code → value: S EEEE MMM; E = 0: M·2⁻⁹; else (8 + M)·2^(E−10); 0x7F/0xFF NaN. */
export function e4m3Value(code: number): number {
  const e = (code >> 3) & 15, m = code & 7;
  if (e === 15 && m === 7) return NaN;
  const mag = e === 0 ? m * 2 ** -9 : (8 + m) * 2 ** (e - 10);
  return code & 128 ? -mag : mag;
}

/** Every stored tensor of `dir` (one model.safetensors) decoded exactly: F8_E4M3 × block scales, the rest as stored; scales dropped. */
function exactStoredWeights(dir: string, block: [number, number]): Map<string, { shape: number[]; values: Float64Array }> {
  const h = readSafetensorsHeader(join(dir, 'model.safetensors'));
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const out = new Map<string, { shape: number[]; values: Float64Array }>();
  for (const t of h.tensors) {
    if (t.name.endsWith('_scale_inv')) continue;
    const bytes = readBytes(h.file, t.offset, t.nbytes);
    if (t.dtype !== 'f8_e4m3') {
      out.set(t.name, { shape: t.shape, values: decodeToF64(t.dtype, bytes) });
      continue;
    }
    const s = byName.get(`${t.name}_scale_inv`)!;
    const scales = decodeToF64(s.dtype as 'f32', readBytes(h.file, s.offset, s.nbytes));
    const [rows, cols] = t.shape as [number, number];
    const nbc = Math.ceil(cols / block[1]);
    const values = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = e4m3Value(bytes[r * cols + c]!) * scales[Math.floor(r / block[0]) * nbc + Math.floor(c / block[1])]!;
    out.set(t.name, { shape: t.shape, values });
  }
  return out;
}

/** The exact dequantized weights of an FP8 folder keyed by the engine's tensor names (Qwen3.5-MoE experts fused). */
export async function loadFp8Reference(dir: string): Promise<ReferenceModel & { spec: ModelSpec }> {
  const spec = await loadModelSpec(dir);
  const q = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).quantization_config as { weight_block_size: [number, number] };
  const stored = exactStoredWeights(dir, q.weight_block_size);
  const weights = new Map<string, Float64Array>();
  const c = spec.config;
  for (const t of spec.tensors) {
    const direct = stored.get(t.name);
    if (direct) {
      weights.set(t.name, direct.values);
      continue;
    }
    // fused experts: per expert its gate then up rows (gate_up_proj), or its down matrix (down_proj)
    const p = t.name.slice(0, t.name.lastIndexOf('.') + 1);
    const projs = t.name.endsWith('gate_up_proj') ? ['gate_proj', 'up_proj'] : ['down_proj'];
    const parts: Float64Array[] = [];
    for (let e = 0; e < c.moe!.numExperts; e++) for (const pr of projs) parts.push(stored.get(`${p}${e}.${pr}.weight`)!.values);
    const all = new Float64Array(parts.reduce((a, x) => a + x.length, 0));
    let at = 0;
    for (const x of parts) all.set(x, at), (at += x.length);
    weights.set(t.name, all);
  }
  return { spec, config: c, weights };
}

/** The same model with every weight rounded once to BF16 (what the loader binds). */
export function roundedToBf16(m: ReferenceModel): ReferenceModel {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const weights = new Map<string, Float64Array>();
  for (const [name, w] of m.weights) weights.set(name, w.map((v) => ((u[0] = f64ToBf16(v) << 16), f[0]!)));
  return { ...m, weights };
}

/** Writes (once) `<dir>-bf16twin`: a BF16 folder of exactly the FP8 folder's dequantized weights rounded to BF16, no quantization_config. */
export async function ensureFp8Bf16Twin(dir: string): Promise<string> {
  const out = `${dir}-bf16twin`;
  await buildFolderOnce(out, 'model.safetensors', async (tmp) => {
    const m = roundedToBf16(await loadFp8Reference(dir));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(tmp, f));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.quantization_config;
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2));
    const tensors = m.spec.tensors.map((t) => ({ name: t.name, dtype: 'bf16' as const, shape: t.shape }));
    const { prefix } = buildSafetensorsHeader(tensors);
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    const bodies = m.spec.tensors.map((t) => {
      const w = m.weights.get(t.name)!;
      const b = new Uint16Array(w.length);
      for (let i = 0; i < w.length; i++) (f[0] = w[i]!), (b[i] = u[0]! >>> 16); // exact: already BF16 values
      return Buffer.from(b.buffer);
    });
    writeFileSync(join(tmp, 'model.safetensors'), Buffer.concat([prefix, ...bodies]));
  });
  return out;
}
