import { mkdirSync, mkdtempSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { expectedTensors, loadModelSpec, parseModelConfig } from '../../engine/model/hf-model.js';
import type { WeightDType } from '../../engine/model/model-spec.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'resident-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A micro Qwen3 config in Hugging Face's form. */
function microConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    vocab_size: 64,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 12,
    intermediate_size: 24,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    max_position_embeddings: 512,
    tie_word_embeddings: true,
    eos_token_id: 151645,
    bos_token_id: 151643,
    ...over,
  };
}

interface MicroOpts {
  config?: Record<string, unknown>;
  dtype?: WeightDType;
  /** Edits the tensor list before writing (drop, reshape, retype). */
  edit?: (t: { name: string; dtype: string; shape: number[] }[]) => void;
  shards?: number;
  gen?: Record<string, unknown>;
}

let counter = 0;
/** Writes a micro model folder with zero weights; returns its path. */
function micro(opts: MicroOpts = {}): string {
  const dir = join(root, `m${counter++}`);
  mkdirSync(dir);
  const cfg = microConfig(opts.config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  if (opts.gen) writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(opts.gen));
  let parsed;
  try {
    parsed = parseModelConfig(cfg, 'config.json');
  } catch {
    parsed = parseModelConfig(microConfig(), 'config.json'); // a config the loader must reject: write the plain tensors
  }
  const tensors = expectedTensors(parsed).map((t) => ({ name: t.name, dtype: opts.dtype ?? 'bf16', shape: t.shape }));
  opts.edit?.(tensors);
  const shards = opts.shards ?? 1;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const part = tensors.filter((_, i) => i % shards === s);
    const file = shards === 1 ? 'model.safetensors' : `model-0000${s + 1}-of-0000${shards}.safetensors`;
    // raw dtypes (e.g. I8) go straight into the header
    const { prefix, dataBytes } = buildRaw(part);
    writeFileSync(join(dir, file), Buffer.concat([prefix, Buffer.alloc(dataBytes)]));
    for (const t of part) weightMap[t.name] = file;
  }
  if (shards > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

const SIZES: Record<string, number> = { bf16: 2, f16: 2, f32: 4, I8: 1 };
function buildRaw(tensors: { name: string; dtype: string; shape: number[] }[]): { prefix: Buffer; dataBytes: number } {
  if (tensors.every((t) => ['bf16', 'f16', 'f32'].includes(t.dtype))) return buildSafetensorsHeader(tensors as { name: string; dtype: WeightDType; shape: number[] }[]);
  const json: Record<string, unknown> = {};
  let pos = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * SIZES[t.dtype]!;
    json[t.name] = { dtype: { bf16: 'BF16', f16: 'F16', f32: 'F32' }[t.dtype] ?? t.dtype, shape: t.shape, data_offsets: [pos, pos + n] };
    pos += n;
  }
  const body = Buffer.from(JSON.stringify(json));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return { prefix: Buffer.concat([len, body]), dataBytes: pos };
}

async function expectLoadError(dir: string, cls: typeof ModelLoadError, fileEnd: string, tensor: string | undefined, text: RegExp): Promise<void> {
  const err = await loadModelSpec(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  const e = err as ModelLoadError;
  expect(e.file?.endsWith(fileEnd)).toBe(true);
  expect(e.message).toContain(fileEnd);
  if (tensor) {
    expect(e.tensor).toBe(tensor);
    expect(e.message).toContain(tensor);
  }
  expect(e.message).toMatch(text);
}

describe('loadModelSpec', () => {
  it('loads a tied Qwen3 folder', async () => {
    const dir = micro({ gen: { eos_token_id: [151645, 151643], bos_token_id: 151643 } });
    const spec = await loadModelSpec(dir);
    expect(spec.config).toMatchObject({ arch: 'qwen3', vocabSize: 64, hiddenSize: 16, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 12, intermediateSize: 24, tieWordEmbeddings: true, eosTokenIds: [151645, 151643], bosTokenId: 151643 });
    expect(spec.dtype).toBe('bf16');
    expect(spec.tensors.length).toBe(1 + 2 * 11 + 1);
    expect(spec.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
    const q = spec.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.weight')!;
    expect(q.shape).toEqual([24, 16]);
    expect(q.nbytes).toBe(24 * 16 * 2);
    expect(q.file).toBe(join(dir, 'model.safetensors'));
    expect(q.offset + q.nbytes).toBeLessThanOrEqual(statSync(q.file).size);
    expect(spec.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect((await loadModelSpec(dir)).fingerprint).toBe(spec.fingerprint);
  });

  it('fingerprints differ when config or dtype differ', async () => {
    const a = await loadModelSpec(micro());
    const b = await loadModelSpec(micro({ config: { rope_theta: 10000 } }));
    const c = await loadModelSpec(micro({ dtype: 'f16' }));
    expect(new Set([a.fingerprint, b.fingerprint, c.fingerprint]).size).toBe(3);
  });

  it('loads untied (with lm_head) and sharded folders', async () => {
    const untied = await loadModelSpec(micro({ config: { tie_word_embeddings: false } }));
    expect(untied.tensors.at(-1)!.name).toBe('lm_head.weight');
    const dir = micro({ shards: 3, config: { tie_word_embeddings: false }, dtype: 'f32' });
    const spec = await loadModelSpec(dir);
    expect(spec.dtype).toBe('f32');
    expect(new Set(spec.tensors.map((t) => t.file)).size).toBe(3);
    expect(spec.tensors.find((t) => t.name === 'model.embed_tokens.weight')!.file).toBe(join(dir, 'model-00001-of-00003.safetensors'));
  });

  it('ignores a stray lm_head when embeddings are tied', async () => {
    const spec = await loadModelSpec(micro({ edit: (t) => t.push({ name: 'lm_head.weight', dtype: 'bf16', shape: [64, 16] }) }));
    expect(spec.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
  });

  it('applies Qwen3Config defaults (head_dim = hidden / heads, kv heads = heads)', () => {
    const c = parseModelConfig({ architectures: ['Qwen3ForCausalLM'], hidden_size: 64, num_attention_heads: 4 }, 'config.json');
    expect(c).toMatchObject({ headDim: 16, nKvHeads: 4, rmsNormEps: 1e-6, ropeTheta: 10000, vocabSize: 151936, tieWordEmbeddings: false, eosTokenIds: [] });
  });

  it('parses Qwen3-MoE configs and expects router + expert tensors', async () => {
    const cfg = { architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 8, norm_topk_prob: true, mlp_only_layers: [1] };
    const spec = await loadModelSpec(micro({ config: cfg }));
    expect(spec.config.arch).toBe('qwen3moe');
    expect(spec.config.moe).toEqual({ numExperts: 4, numExpertsPerTok: 2, normTopkProb: true, moeIntermediateSize: 8, decoderSparseStep: 1, mlpOnlyLayers: [1] });
    const names = spec.tensors.map((t) => t.name);
    expect(names).toContain('model.layers.0.mlp.gate.weight');
    expect(names).toContain('model.layers.0.mlp.experts.3.down_proj.weight');
    expect(names).toContain('model.layers.1.mlp.gate_proj.weight'); // dense layer
    expect(spec.tensors.find((t) => t.name === 'model.layers.0.mlp.experts.0.down_proj.weight')!.shape).toEqual([16, 8]);
  });

  it('names the missing tensor and its file', async () => {
    const dir = micro({ edit: (t) => t.splice(t.findIndex((x) => x.name === 'model.layers.1.self_attn.k_norm.weight'), 1) });
    await expectLoadError(dir, ModelLoadError, 'model.safetensors', 'model.layers.1.self_attn.k_norm.weight', /missing tensor/);
    const sharded = micro({ shards: 2, edit: (t) => t.splice(t.findIndex((x) => x.name === 'model.norm.weight'), 1) });
    await expectLoadError(sharded, ModelLoadError, '.safetensors', 'model.norm.weight', /missing tensor/);
  });

  it('names a tensor with the wrong shape', async () => {
    const dir = micro({ edit: (t) => (t.find((x) => x.name === 'model.layers.0.mlp.down_proj.weight')!.shape = [24, 16]) });
    await expectLoadError(dir, ModelLoadError, 'model.safetensors', 'model.layers.0.mlp.down_proj.weight', /shape \[24, 16\], expected \[16, 24\]/);
  });

  it('rejects unsupported and mixed matrix dtypes', async () => {
    const i8 = micro({ edit: (t) => (t.find((x) => x.name === 'model.layers.0.self_attn.v_proj.weight')!.dtype = 'I8') });
    await expectLoadError(i8, UnsupportedModelError, 'model.safetensors', 'model.layers.0.self_attn.v_proj.weight', /I8/);
    const mixed = micro({ edit: (t) => (t.find((x) => x.name === 'model.layers.1.mlp.up_proj.weight')!.dtype = 'f32') });
    await expectLoadError(mixed, UnsupportedModelError, 'model.safetensors', 'model.layers.1.mlp.up_proj.weight', /mixed/);
    // norms may differ from the matrices
    const norms = micro({ edit: (t) => t.filter((x) => x.name.endsWith('norm.weight')).forEach((x) => (x.dtype = 'f32')) });
    expect((await loadModelSpec(norms)).dtype).toBe('bf16');
  });

  it('rejects a truncated weight file', async () => {
    const dir = micro();
    const f = join(dir, 'model.safetensors');
    truncateSync(f, statSync(f).size - 10); // cuts into the last tensor only
    await expectLoadError(dir, ModelLoadError, 'model.safetensors', 'model.norm.weight', /past the end/);
  });

  it('rejects a bad safetensors header and bad config JSON', async () => {
    const dir = micro();
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":')]));
    await expectLoadError(dir, ModelLoadError, 'model.safetensors', undefined, /not valid JSON/);
    const d2 = micro();
    writeFileSync(join(d2, 'config.json'), '{ nope');
    await expectLoadError(d2, ModelLoadError, 'config.json', undefined, /not valid JSON/);
  });

  it('rejects other architectures and options it cannot honor, naming config.json', async () => {
    await expectLoadError(micro({ config: { architectures: ['LlamaForCausalLM'] } }), UnsupportedModelError, 'config.json', undefined, /LlamaForCausalLM/);
    await expectLoadError(micro({ config: { rope_scaling: { rope_type: 'yarn', factor: 4 } } }), UnsupportedModelError, 'config.json', undefined, /rope_scaling type 'yarn'/);
    await expectLoadError(micro({ config: { attention_bias: true } }), UnsupportedModelError, 'config.json', undefined, /attention_bias/);
    await expectLoadError(micro({ config: { hidden_act: 'gelu' } }), UnsupportedModelError, 'config.json', undefined, /gelu/);
    await expectLoadError(micro({ config: { num_key_value_heads: 3, num_attention_heads: 4 } }), ModelLoadError, 'config.json', undefined, /multiple/);
    const ok = await loadModelSpec(micro({ config: { rope_scaling: { rope_type: 'default' } } }));
    expect(ok.config.arch).toBe('qwen3');
  });

  it('names a folder without weights or config', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expectLoadError(empty, ModelLoadError, 'config.json', undefined, /no config\.json/);
    writeFileSync(join(empty, 'config.json'), JSON.stringify(microConfig()));
    await expectLoadError(empty, ModelLoadError, 'model.safetensors', undefined, /no model\.safetensors/);
  });
});
