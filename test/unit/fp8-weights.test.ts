/**
 * Loading FP8 (e4m3, block-scaled) folders: quantization_config validation, the converted tensors' bytes, the
 * fingerprint, and the named errors for bad files (NaN codes, missing / misshapen / orphan scales, F8 tensors
 * without a quantization_config, unsupported formats).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { E4M3_VALUES, f64ToBf16, Fp8NanError } from '../../engine/model/fp8-e4m3.js';
import { parseFp8Config } from '../../engine/model/fp8-weights.js';
import { expectedTensors, loadModelSpec, parseModelConfig } from '../../engine/model/hf-model.js';
import { buildSafetensorsHeader, DTYPE_SIZE, type StoredDType } from '../../engine/model/safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'resident-fp8-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', vocab_size: 64, hidden_size: 16, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, intermediate_size: 24, tie_word_embeddings: true,
};
const QUANT = { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [8, 8], modules_to_not_convert: ['lm_head'] };

interface T { name: string; dtype: StoredDType; shape: number[]; bytes?: Uint8Array }

/** The micro model's tensors: matrices F8_E4M3 (codes i·7 mod 126) with F32 scales (8 × 8 blocks), the rest BF16 zeros. */
function fp8Tensors(): T[] {
  const out: T[] = [];
  for (const e of expectedTensors(parseModelConfig(CONFIG, 'config.json'))) {
    const n = e.shape.reduce((a, d) => a * d, 1);
    if (e.kind !== 'matrix' || e.name.includes('embed')) {
      out.push({ name: e.name, dtype: 'bf16', shape: e.shape });
      continue;
    }
    const [r, c] = e.shape as [number, number];
    out.push({ name: e.name, dtype: 'f8_e4m3', shape: e.shape, bytes: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 126) });
    const sShape = [Math.ceil(r / 8), Math.ceil(c / 8)];
    const scales = Float32Array.from({ length: sShape[0]! * sShape[1]! }, (_, i) => 0.5 + i / 16);
    out.push({ name: `${e.name}_scale_inv`, dtype: 'f32', shape: sShape, bytes: new Uint8Array(scales.buffer) });
  }
  return out;
}

let n = 0;
function folder(tensors: T[], config: Record<string, unknown> = { ...CONFIG, quantization_config: QUANT }): string {
  const dir = join(root, `m${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const { prefix } = buildSafetensorsHeader(tensors);
  const bodies = tensors.map((t) => t.bytes ?? new Uint8Array(t.shape.reduce((a, d) => a * d, 1) * DTYPE_SIZE[t.dtype]));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([prefix, ...bodies]));
  return dir;
}

async function loadError(dir: string): Promise<ModelLoadError> {
  const err = await loadModelSpec(dir).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

describe('FP8 folders', () => {
  it('load with every F8_E4M3 matrix converted to BF16 value × its block scale', async () => {
    const tensors = fp8Tensors();
    const spec = await loadModelSpec(folder(tensors));
    expect(spec.dtype).toBe('bf16');
    const name = 'model.layers.0.mlp.down_proj.weight'; // [16, 24]: 2 × 3 blocks
    const ref = spec.tensors.find((t) => t.name === name)!;
    expect(ref).toMatchObject({ dtype: 'bf16', shape: [16, 24], nbytes: 16 * 24 * 2 });
    const got = new Uint16Array(ref.data!.buffer, ref.data!.byteOffset, 16 * 24);
    const codes = tensors.find((t) => t.name === name)!.bytes!;
    for (let r = 0; r < 16; r++)
      for (let c = 0; c < 24; c++) {
        const scale = 0.5 + (Math.floor(r / 8) * 3 + Math.floor(c / 8)) / 16;
        expect(got[r * 24 + c]).toBe(f64ToBf16(E4M3_VALUES[codes[r * 24 + c]!]! * scale));
      }
    expect(spec.tensors.some((t) => t.name.endsWith('_scale_inv'))).toBe(false);
  });

  it('accept BF16 block scales too', async () => {
    const bf16Scales = fp8Tensors().map((t) => {
      if (!t.name.endsWith('_scale_inv')) return t;
      const f = new Float32Array(t.bytes!.buffer.slice(0));
      const b = Uint16Array.from(new Uint32Array(f.buffer), (u) => u >>> 16); // i/16 + 0.5: exact in BF16
      return { ...t, dtype: 'bf16' as const, bytes: new Uint8Array(b.buffer) };
    });
    const [a, b] = [await loadModelSpec(folder(fp8Tensors())), await loadModelSpec(folder(bf16Scales))];
    const name = 'model.layers.0.mlp.gate_proj.weight';
    expect(Buffer.from(b.tensors.find((t) => t.name === name)!.data!).equals(Buffer.from(a.tensors.find((t) => t.name === name)!.data!))).toBe(true);
  });

  it('have a fingerprint of their own', async () => {
    const a = await loadModelSpec(folder(fp8Tensors()));
    const b = await loadModelSpec(folder(fp8Tensors(), { ...CONFIG, quantization_config: { ...QUANT, weight_block_size: [8, 8], modules_to_not_convert: [] } }));
    expect(a.fingerprint).toBe(b.fingerprint); // the module list is informative; the stored dtypes decide
    const bf16 = await loadModelSpec(folder(fp8Tensors().filter((t) => !t.name.endsWith('_scale_inv')).map((t) => ({ name: t.name, dtype: 'bf16' as const, shape: t.shape })), CONFIG));
    expect(bf16.fingerprint).not.toBe(a.fingerprint);
  });

  it('refuse a NaN code by name when converted', async () => {
    const tensors = fp8Tensors();
    const w = tensors.find((t) => t.name === 'model.layers.0.self_attn.k_proj.weight')!;
    w.bytes![5] = 0xff;
    const spec = await loadModelSpec(folder(tensors));
    const ref = spec.tensors.find((t) => t.name === w.name)!;
    let err: unknown;
    try {
      void ref.data;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Fp8NanError);
    expect((err as Fp8NanError).code).toBe('fp8_nan');
    expect((err as Fp8NanError).tensor).toBe(w.name);
    expect((err as Error).message).toMatch(/NaN code 0xff at element 5/);
  });

  it('refuse a non-finite scale by name when converted', async () => {
    const tensors = fp8Tensors();
    const s = tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight_scale_inv')!;
    new Float32Array(s.bytes!.buffer)[0] = Infinity;
    const spec = await loadModelSpec(folder(tensors));
    expect(() => spec.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!.data).toThrow(/scale Infinity at index 0 of 'model.layers.0.self_attn.q_proj.weight_scale_inv'/);
  });

  it('refuse a missing scale tensor by name', async () => {
    const name = 'model.layers.0.mlp.up_proj.weight_scale_inv';
    const e = await loadError(folder(fp8Tensors().filter((t) => t.name !== name)));
    expect(e.tensor).toBe(name);
    expect(e.message).toMatch(/missing tensor .*up_proj.weight_scale_inv.*block scales/);
  });

  it('refuse a scale tensor of the wrong shape by name', async () => {
    const name = 'model.layers.0.mlp.down_proj.weight_scale_inv';
    const e = await loadError(folder(fp8Tensors().map((t) => (t.name === name ? { ...t, shape: [3, 2] } : t))));
    expect(e.tensor).toBe(name);
    expect(e.message).toMatch(/shape \[3, 2\], expected \[2, 3\]/);
  });

  it('refuse an orphan scale and F8 tensors without quantization_config', async () => {
    const orphan = fp8Tensors();
    orphan.push({ name: 'model.norm.weight_scale_inv', dtype: 'f32', shape: [1, 1] });
    expect((await loadError(folder(orphan))).tensor).toBe('model.norm.weight_scale_inv');
    const e = await loadError(folder(fp8Tensors(), CONFIG));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toMatch(/F8_E4M3 but config.json has no quantization_config/);
  });

  it('refuse unsupported quantization_config fields by name', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...QUANT, quant_method: 'awq' }, /quantization_config.quant_method "awq"/],
      [{ ...QUANT, fmt: 'e5m2' }, /quantization_config.fmt "e5m2"/],
      [{ ...QUANT, activation_scheme: 'static' }, /quantization_config.activation_scheme "static"/],
      [{ ...QUANT, weight_block_size: undefined }, /quantization_config.weight_block_size/],
      [{ ...QUANT, weight_block_size: [128] }, /quantization_config.weight_block_size \[128\]/],
      [{ ...QUANT, scale_fmt: 'ue8m0' }, /quantization_config.scale_fmt "ue8m0"/],
      [{ ...QUANT, modules_to_not_convert: 'lm_head' }, /quantization_config.modules_to_not_convert/],
    ];
    for (const [q, re] of cases) {
      let err: unknown;
      try {
        parseFp8Config({ quantization_config: q }, 'config.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedModelError);
      expect((err as Error).message).toMatch(re);
    }
    expect(parseFp8Config({}, 'config.json')).toBeUndefined();
    expect(parseFp8Config({ text_config: { quantization_config: QUANT } }, 'config.json')?.block).toEqual([8, 8]);
    expect(parseFp8Config({ quantization_config: { quant_method: 'fp8', weight_block_size: [128, 64] } }, 'c')?.block).toEqual([128, 64]);
  });
});
