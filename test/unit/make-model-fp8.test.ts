/**
 * `make-model --dtype fp8`: Qwen's FP8 release layout (config, which tensors are F8_E4M3, scale shapes, per-expert
 * Qwen3.5-MoE experts), per-block scales of amax / 448, values close to the BF16 model of the same seed,
 * deterministic bytes, and the CLI's flags.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToF64 } from '../../engine/model/float-convert.js';
import { E4M3_VALUES } from '../../engine/model/fp8-e4m3.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { readSafetensorsHeader } from '../../engine/model/safetensors.js';
import { makeModel } from '../../engine/synth/make-model.js';
import { main } from '../../runtime/cli.js';
import { readBytes } from '../support/read-bytes.js';

const root = mkdtempSync(join(tmpdir(), 'resident-mm8-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('make-model --dtype fp8', () => {
  it("writes Qwen3.5-MoE in the FP8 releases' layout", async () => {
    const r = await makeModel({ preset: 'tiny-hybrid-moe', dtype: 'fp8', out: join(root, 'hm'), tokenizerDir: false });
    const cfg = JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8'));
    expect(cfg.quantization_config).toMatchObject({ quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] });
    expect(cfg.quantization_config.modules_to_not_convert).toEqual(expect.arrayContaining(['lm_head', 'model.language_model.layers.0.mlp.gate', 'model.language_model.layers.0.mlp.shared_expert_gate', 'model.language_model.layers.0.linear_attn.in_proj_a']));
    const h = readSafetensorsHeader(join(r.dir, 'model.safetensors'));
    const t = new Map(h.tensors.map((x) => [x.name, x]));
    const p = 'model.language_model.layers.';
    for (const bf16 of ['model.language_model.embed_tokens.weight', 'lm_head.weight', `${p}0.mlp.gate.weight`, `${p}0.mlp.shared_expert_gate.weight`, `${p}0.linear_attn.in_proj_b.weight`, `${p}0.input_layernorm.weight`, `${p}0.linear_attn.A_log`])
      expect(t.get(bf16)?.dtype, bf16).toBe('bf16');
    for (const fp8 of [`${p}0.linear_attn.in_proj_qkv.weight`, `${p}0.linear_attn.out_proj.weight`, `${p}3.self_attn.q_proj.weight`, `${p}0.mlp.experts.7.up_proj.weight`, `${p}0.mlp.shared_expert.down_proj.weight`]) {
      expect(t.get(fp8)?.dtype, fp8).toBe('f8_e4m3');
      const s = t.get(`${fp8}_scale_inv`)!;
      expect(s.dtype).toBe('f32');
      expect(s.shape).toEqual(t.get(fp8)!.shape.map((d) => Math.ceil(d / 128)));
    }
    expect(t.get(`${p}0.mlp.experts.3.gate_proj.weight`)!.shape).toEqual([64, 128]);
    expect(t.get(`${p}0.mlp.experts.3.down_proj.weight`)!.shape).toEqual([128, 64]);
    expect(t.has(`${p}0.mlp.experts.gate_up_proj`)).toBe(false);
    const spec = await loadModelSpec(r.dir);
    expect(spec.tensors.find((x) => x.name === `${p}0.mlp.experts.gate_up_proj`)!.shape).toEqual([8, 128, 128]);
  });

  it('quantizes per 128×128 block with scale amax / 448, close to the BF16 model of the seed, deterministically', async () => {
    const a = await makeModel({ preset: 'tiny', dtype: 'fp8', out: join(root, 'a'), seed: 3, tokenizerDir: false });
    const b = await makeModel({ preset: 'tiny', dtype: 'fp8', out: join(root, 'b'), seed: 3, tokenizerDir: false });
    const f = await makeModel({ preset: 'tiny', dtype: 'f32', out: join(root, 'f'), seed: 3, tokenizerDir: false });
    expect(sha(join(a.dir, 'model.safetensors'))).toBe(sha(join(b.dir, 'model.safetensors')));
    const h = readSafetensorsHeader(join(a.dir, 'model.safetensors'));
    const hf = readSafetensorsHeader(join(f.dir, 'model.safetensors'));
    const name = 'model.layers.1.mlp.down_proj.weight'; // [128, 384]: 1 × 3 blocks
    const w = h.tensors.find((x) => x.name === name)!, s = h.tensors.find((x) => x.name === `${name}_scale_inv`)!;
    const x = hf.tensors.find((y) => y.name === name)!;
    const codes = readBytes(h.file, w.offset, w.nbytes);
    const scales = decodeToF64('f32', readBytes(h.file, s.offset, s.nbytes));
    const orig = decodeToF64('f32', readBytes(hf.file, x.offset, x.nbytes));
    for (let cb = 0; cb < 3; cb++) {
      let amax = 0, cmax = 0;
      for (let r = 0; r < 128; r++)
        for (let c = cb * 128; c < (cb + 1) * 128; c++) {
          const i = r * 384 + c;
          amax = Math.max(amax, Math.abs(orig[i]!));
          cmax = Math.max(cmax, Math.abs(E4M3_VALUES[codes[i]!]!));
          // e4m3 keeps 4 significant bits: within 1/16 relative, or half the smallest subnormal step
          expect(Math.abs(E4M3_VALUES[codes[i]!]! * scales[cb]! - orig[i]!)).toBeLessThanOrEqual(Math.abs(orig[i]!) / 16 + scales[cb]! * 2 ** -10);
        }
      expect(scales[cb]).toBe(Math.fround(amax / 448));
      expect(cmax).toBe(448);
    }
  });

  it('is offered by the CLI (not with --gguf)', async () => {
    const quiet = async (argv: string[]) => {
      const [err, out] = [process.stderr.write, process.stdout.write];
      process.stderr.write = process.stdout.write = () => true;
      try {
        return await main(argv);
      } finally {
        [process.stderr.write, process.stdout.write] = [err, out];
      }
    };
    expect(await quiet(['make-model', '--preset', 'tiny', '--dtype', 'fp8', '--gguf', join(root, 'x.gguf'), '--out', join(root, 'y')])).toBe(2);
    expect(await quiet(['make-model', '--preset', 'tiny-minimax', '--dtype', 'fp8', '--out', join(root, 'y')])).toBe(2);
    expect(await quiet(['make-model', '--preset', 'tiny-moe', '--dtype', 'fp8', '--tokenizer', 'builtin', '--out', join(root, 'cli')])).toBe(0);
    const spec = await loadModelSpec(join(root, 'cli'));
    expect(spec.dtype).toBe('bf16');
    expect(spec.tensors.find((t) => t.name === 'model.layers.0.mlp.experts.0.gate_proj.weight')!.file).toContain('#');
  });
});
