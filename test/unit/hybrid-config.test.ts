/**
 * Qwen3.5 / 3.6 config.json parsing (published layouts: nested text_config, MoE, text-only, legacy top-level keys),
 * the errors for what the hybrid forward does not implement, the expected tensors (real HF names and shapes), the
 * loader's handling of vision / MTP / unknown tensors, and the native door refusing hybrids until their forward lands.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { expectedTensors, loadModelSpec, parseModelConfig } from '../../engine/model/hf-model.js';
import type { ModelConfig } from '../../engine/model/model-spec.js';
import { mtpTensors } from '../../engine/model/families/qwen35-tensors.js';
import { buildSafetensorsHeader } from '../../engine/model/safetensors.js';
import { loadEngine } from '../../engine/native.js';
import { hfConfigJson } from '../../engine/synth/make-model.js';
import { getPreset, presetNames } from '../../engine/synth/model-presets.js';

const F = 'config.json';
const layerTypes = (n: number): string[] => Array.from({ length: n }, (_, i) => ((i + 1) % 4 === 0 ? 'full_attention' : 'linear_attention'));

/** Qwen3.5-0.8B's config.json (text part as published; vision part abridged). */
const QWEN35_08B = {
  architectures: ['Qwen3_5ForConditionalGeneration'],
  image_token_id: 248056,
  model_type: 'qwen3_5',
  text_config: {
    attention_bias: false, attention_dropout: 0.0, attn_output_gate: true, dtype: 'bfloat16', eos_token_id: 248044,
    full_attention_interval: 4, head_dim: 256, hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02,
    intermediate_size: 3584, layer_types: layerTypes(24), linear_conv_kernel_dim: 4, linear_key_head_dim: 128,
    linear_num_key_heads: 16, linear_num_value_heads: 16, linear_value_head_dim: 128, mamba_ssm_dtype: 'float32',
    max_position_embeddings: 262144, mlp_only_layers: [], model_type: 'qwen3_5_text', mtp_num_hidden_layers: 1,
    mtp_use_dedicated_embeddings: false, num_attention_heads: 8, num_hidden_layers: 24, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, tie_word_embeddings: true, use_cache: true, vocab_size: 248320,
    rope_parameters: { mrope_interleaved: true, mrope_section: [11, 11, 10], rope_type: 'default', rope_theta: 10000000, partial_rotary_factor: 0.25 },
  },
  tie_word_embeddings: true,
  transformers_version: '4.57.0.dev0',
  video_token_id: 248057,
  vision_config: { depth: 12, hidden_size: 768, model_type: 'qwen3_5', out_hidden_size: 1024 },
  vision_end_token_id: 248054,
  vision_start_token_id: 248053,
};

/** Qwen3.6-35B-A3B's config.json (text part as published). */
const QWEN36_35B = {
  architectures: ['Qwen3_5MoeForConditionalGeneration'],
  model_type: 'qwen3_5_moe',
  text_config: {
    attn_output_gate: true, bos_token_id: 248044, dtype: 'bfloat16', eos_token_id: 248044, full_attention_interval: 4,
    head_dim: 256, hidden_act: 'silu', hidden_size: 2048, layer_types: layerTypes(40), linear_conv_kernel_dim: 4,
    linear_key_head_dim: 128, linear_num_key_heads: 16, linear_num_value_heads: 32, linear_value_head_dim: 128,
    max_position_embeddings: 262144, model_type: 'qwen3_5_moe_text', moe_intermediate_size: 512, mtp_num_hidden_layers: 1,
    num_attention_heads: 16, num_experts: 256, num_experts_per_tok: 8, num_hidden_layers: 40, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, router_aux_loss_coef: 0.001, shared_expert_intermediate_size: 512, tie_word_embeddings: false,
    vocab_size: 248320,
    rope_parameters: { mrope_interleaved: true, mrope_section: [11, 11, 10], rope_type: 'default', rope_theta: 10000000, partial_rotary_factor: 0.25 },
  },
  tie_word_embeddings: false,
  vision_config: { depth: 27, hidden_size: 1152, model_type: 'qwen3_5_moe', out_hidden_size: 2048 },
};

const withText = (base: { text_config: object }, text: Record<string, unknown>) => ({ ...base, text_config: { ...base.text_config, ...text } });

describe('Qwen3.5 config.json parsing', () => {
  it('reads Qwen3.5-0.8B: nested text_config, layer_types, DeltaNet sizes, partial rotary, MRoPE sections, tied, MTP', () => {
    const c = parseModelConfig(QWEN35_08B, F, { bos_token_id: 248044, eos_token_id: [248046, 248044] });
    expect(c).toMatchObject({
      arch: 'qwen35', vocabSize: 248320, hiddenSize: 1024, nLayers: 24, nHeads: 8, nKvHeads: 2, headDim: 256, intermediateSize: 3584,
      rmsNormEps: 1e-6, ropeTheta: 1e7, maxPositionEmbeddings: 262144, tieWordEmbeddings: true, bosTokenId: 248044,
      eosTokenIds: [248046, 248044], ropeDim: 64, mropeSection: [11, 11, 10], weightPrefix: 'model.language_model.', mtpLayers: 1,
      linearAttention: { convKernel: 4, numKeyHeads: 16, numValueHeads: 16, keyHeadDim: 128, valueHeadDim: 128 },
    });
    expect(c.moe).toBeUndefined();
    expect(c.layerKinds!.filter((k) => k === 'attention').length).toBe(6);
    expect(c.layerKinds!.slice(0, 8)).toEqual(['linear', 'linear', 'linear', 'attention', 'linear', 'linear', 'linear', 'attention']);
  });

  it('reads Qwen3.6-35B-A3B: routed experts, always renormalised top-k, shared expert, no dense MLP, untied', () => {
    const c = parseModelConfig(QWEN36_35B, F);
    expect(c).toMatchObject({ arch: 'qwen35moe', hiddenSize: 2048, nLayers: 40, nHeads: 16, nKvHeads: 2, intermediateSize: 0, tieWordEmbeddings: false, bosTokenId: 248044 });
    expect(c.moe).toEqual({ numExperts: 256, numExpertsPerTok: 8, normTopkProb: true, moeIntermediateSize: 512, decoderSparseStep: 1, mlpOnlyLayers: [], sharedExpertIntermediateSize: 512 });
    expect(c.linearAttention).toEqual({ convKernel: 4, numKeyHeads: 16, numValueHeads: 32, keyHeadDim: 128, valueHeadDim: 128 });
  });

  it('derives the layer kinds from full_attention_interval when layer_types is absent', () => {
    const { layer_types: _, ...text } = QWEN36_35B.text_config;
    const c = parseModelConfig({ ...QWEN36_35B, text_config: { ...text, num_hidden_layers: 6, full_attention_interval: 3 } }, F);
    expect(c.layerKinds).toEqual(['linear', 'linear', 'attention', 'linear', 'linear', 'attention']);
  });

  it('reads a flat text-only Qwen3_5ForCausalLM config with legacy top-level rope keys and the defaults', () => {
    const c = parseModelConfig({ architectures: ['Qwen3_5ForCausalLM'], model_type: 'qwen3_5_text', num_hidden_layers: 4, rope_theta: 5e6, partial_rotary_factor: 0.5 }, F);
    expect(c).toMatchObject({ arch: 'qwen35', weightPrefix: 'model.', ropeTheta: 5e6, ropeDim: 128, headDim: 256, hiddenSize: 4096, nHeads: 16, nKvHeads: 4, vocabSize: 248320, mtpLayers: 0 });
    expect(c.layerKinds).toEqual(['linear', 'linear', 'linear', 'attention']);
    expect(c.linearAttention).toEqual({ convKernel: 4, numKeyHeads: 16, numValueHeads: 32, keyHeadDim: 128, valueHeadDim: 128 });
  });

  it('names what it cannot run: unknown layer types, no output gate, RoPE scaling, uncovered MRoPE pairs, dense MoE layers', () => {
    const bad = (text: Record<string, unknown>, err: typeof ModelLoadError, msg: RegExp) =>
      expect(() => parseModelConfig(withText(QWEN35_08B, text), F)).toThrow(expect.objectContaining({ constructor: err, message: expect.stringMatching(msg) }));
    const types = layerTypes(24);
    types[5] = 'sliding_attention';
    bad({ layer_types: types }, UnsupportedModelError, /layer_types\[5\] is 'sliding_attention'/);
    bad({ layer_types: layerTypes(23) }, ModelLoadError, /layer_types must list num_hidden_layers \(24\)/);
    bad({ attn_output_gate: false }, UnsupportedModelError, /attn_output_gate/);
    bad({ rope_parameters: { rope_type: 'yarn', factor: 4, rope_theta: 1e7 } }, UnsupportedModelError, /rope type 'yarn'/);
    bad({ rope_parameters: { rope_theta: 1e7, partial_rotary_factor: 0.25, mrope_section: [11, 11, 5] } }, UnsupportedModelError, /mrope_section.*pair 17 uncovered/);
    bad({ linear_num_value_heads: 24 }, ModelLoadError, /not a multiple of linear_num_key_heads/);
    expect(() => parseModelConfig(withText(QWEN36_35B, { mlp_only_layers: [0] }), F)).toThrow(UnsupportedModelError);
    expect(() => parseModelConfig({ architectures: ['Qwen3NextForCausalLM'] }, F)).toThrow(/Qwen3_5ForConditionalGeneration/);
  });

  it('round-trips every hybrid preset through the config.json make-model writes', () => {
    const hybrids = presetNames().filter((n) => getPreset(n)!.config.layerKinds);
    expect(hybrids).toEqual(['tiny-hybrid', 'tiny-256-hybrid', 'tiny-hybrid-moe', 'qwen3.5-0.8b', 'qwen3.6-35b-a3b-8l']);
    for (const n of hybrids) {
      const want = getPreset(n)!.config;
      const got = parseModelConfig(hfConfigJson(want, 'bf16'), F, { eos_token_id: want.eosTokenIds, bos_token_id: want.bosTokenId });
      expect(got, n).toEqual(want);
    }
  });
});

describe('Qwen3.5 expected tensors', () => {
  const count = (c: ModelConfig) => expectedTensors(c).length;

  it('lists the real checkpoint names and shapes (Qwen3.6-35B-A3B: 693 text tensors, as the published index holds)', () => {
    const c = parseModelConfig(QWEN36_35B, F);
    const t = new Map(expectedTensors(c).map((e) => [e.name, e]));
    expect(count(c)).toBe(693); // 30 DeltaNet layers × 18 + 10 attention layers × 15 + embedding, norm, lm_head
    const p = 'model.language_model.layers.';
    expect(t.get(`${p}0.linear_attn.in_proj_qkv.weight`)!.shape).toEqual([2 * 16 * 128 + 32 * 128, 2048]);
    expect(t.get(`${p}0.linear_attn.conv1d.weight`)!.shape).toEqual([8192, 1, 4]);
    expect(t.get(`${p}0.linear_attn.A_log`)).toMatchObject({ shape: [32], kind: 'param' });
    expect(t.get(`${p}0.linear_attn.norm.weight`)).toEqual({ name: `${p}0.linear_attn.norm.weight`, shape: [128], kind: 'norm' });
    expect(t.get(`${p}0.linear_attn.out_proj.weight`)!.shape).toEqual([2048, 4096]);
    expect(t.get(`${p}0.mlp.experts.gate_up_proj`)!.shape).toEqual([256, 1024, 2048]);
    expect(t.get(`${p}0.mlp.experts.down_proj`)!.shape).toEqual([256, 2048, 512]);
    expect(t.get(`${p}0.mlp.shared_expert_gate.weight`)!.shape).toEqual([1, 2048]);
    expect(t.get(`${p}3.self_attn.q_proj.weight`)!.shape).toEqual([16 * 256 * 2, 2048]);
    expect(t.get(`${p}3.self_attn.q_norm.weight`)).toMatchObject({ shape: [256], zeroCentred: true });
    expect(t.has(`${p}3.linear_attn.A_log`)).toBe(false);
    expect(t.get('model.language_model.norm.weight')!.zeroCentred).toBe(true);
    expect(t.get('lm_head.weight')!.shape).toEqual([248320, 2048]);
    expect(mtpTensors(c).map((e) => e.name)).toContain('mtp.layers.0.mlp.experts.gate_up_proj');
  });

  it('counts Qwen3.5-0.8B: 18 DeltaNet layers × 14 + 6 attention layers × 11 + embedding + norm (tied)', () => {
    const c = parseModelConfig(QWEN35_08B, F);
    expect(count(c)).toBe(18 * 14 + 6 * 11 + 2);
    const params = expectedTensors(c).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
    expect(params).toBeGreaterThan(0.74e9); // the text model of the "0.8B" (the vision tower is the rest)
    expect(params).toBeLessThan(0.76e9);
  });
});

describe('Qwen3.5 loading', () => {
  const root = mkdtempSync(join(tmpdir(), 'resident-hybrid-cfg-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A tiny-hybrid folder (zero F32 weights) holding the expected tensors plus `extra`. */
  function folder(name: string, extra: { name: string; shape: number[] }[]): string {
    const c = getPreset('tiny-hybrid')!.config;
    const dir = join(root, name);
    const tensors = [...expectedTensors(c), ...extra].map((t) => ({ name: t.name, shape: t.shape, dtype: 'f32' as const }));
    const { prefix, dataBytes } = buildSafetensorsHeader(tensors);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfigJson(c, 'f32')));
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([prefix, Buffer.alloc(dataBytes)]));
    return dir;
  }

  it('loads the text model and leaves the vision tower and the MTP head out', async () => {
    const dir = folder('ok', [{ name: 'model.visual.blocks.0.attn.qkv.weight', shape: [48, 16] }, { name: 'mtp.fc.weight', shape: [128, 256] }]);
    const spec = await loadModelSpec(dir);
    expect(spec.config.arch).toBe('qwen35');
    expect(spec.tensors.map((t) => t.name)).toEqual(expectedTensors(spec.config).map((e) => e.name));
  });

  it('rejects a text tensor it does not know (e.g. a conv bias) instead of running without it', async () => {
    const dir = folder('bias', [{ name: 'model.language_model.layers.0.linear_attn.conv1d.bias', shape: [256] }]);
    await expect(loadModelSpec(dir)).rejects.toThrow(/unexpected tensor 'model.language_model.layers.0.linear_attn.conv1d.bias'/);
  });

  it('the native engine loads a hybrid: slots hold KV for the attention layers only and a recurrent state for the others', async () => {
    const spec = await loadModelSpec(folder('native', []));
    const c = spec.config, la = c.linearAttention!;
    const nLinear = c.layerKinds!.filter((k) => k === 'linear').length, nAttention = c.nLayers - nLinear;
    const engine = await loadEngine(spec, { maxBatchTokens: 16 });
    try {
      const slot = engine.createSlot(64, 'f32');
      const convChannels = 2 * la.numKeyHeads * la.keyHeadDim + la.numValueHeads * la.valueHeadDim;
      const perLayer = (la.convKernel - 1) * convChannels + la.numValueHeads * la.keyHeadDim * la.valueHeadDim;
      expect(slot.stateBytes).toBe(nLinear * perLayer * 4);
      expect(slot.bytesPerToken).toBe(nAttention * 2 * c.nKvHeads * c.headDim * 4);
      expect(slot.statePosition).toBe(0);
    } finally {
      engine.dispose();
    }
  });

  it('the native engine loads a hybrid and runs it; an unknown architecture is refused with UnsupportedModelError', async () => {
    const spec = await loadModelSpec(folder('native', []));
    const engine = await loadEngine(spec, { threads: 1, maxBatchTokens: 8 });
    const slot = engine.createSlot(16, 'f32');
    const [out] = await engine.forward([{ slot, tokens: [1, 2, 3], logits: 'last' }]);
    expect(out!.data.every(Number.isFinite)).toBe(true);
    expect(slot.statePosition).toBe(3);
    slot.dispose();
    engine.dispose();
    const other = { ...spec, config: { ...spec.config, arch: 'llama' as unknown as typeof spec.config.arch } };
    await expect(loadEngine(other)).rejects.toThrow(UnsupportedModelError);
  });
});
