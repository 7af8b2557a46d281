/**
 * The design of engine/model/families/: a new family is one module registered with the registry, and every loader
 * picks it up — config.json parsing, the tensors a checkpoint must hold, GGUF metadata and tensor names, and the
 * native engine's forward file — without touching hf-model.ts, gguf-config.ts, gguf-tensors.ts or native.ts.
 * A throw-away family is registered here only (a Qwen3-shaped model under another architecture name, run by
 * Qwen3's forward file), and every built-in family's names round-trip through the registry.
 */
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnsupportedModelError } from '../../engine/errors.js';
import type { ModelFamily } from '../../engine/model/families/family.js';
import { checkFullAttention, hfBaseConfig, hfShape } from '../../engine/model/families/hf-config.js';
import { qwen3Family } from '../../engine/model/families/qwen3.js';
import { familyOf, familyOfGguf, familyOfHf, modelFamilies, registerFamily, supportedHfArchitectures } from '../../engine/model/families/registry.js';
import { ggufModelConfig } from '../../engine/model/gguf-config.js';
import { GgufMetadata, type GgufMetaValue } from '../../engine/model/gguf-reader.js';
import { ggufBindingTensors } from '../../engine/model/gguf-tensors.js';
import { expectedTensors, loadModelSpec, parseModelConfig } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { ensureModel } from '../support/models.js';

/** A family the engine does not ship: Qwen3's tensors and forward, its own architecture names, config defaults and GGUF name. */
const TOY: ModelFamily = {
  name: 'Toy',
  archs: ['toy'],
  hfArchitectures: ['ToyForCausalLM'],
  ggufArchitectures: ['toy'],
  parseHfConfig(r, _hf, gen) {
    const d = { vocab: 512, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96 };
    const shape = hfShape(r, d);
    checkFullAttention(r);
    return hfBaseConfig(r, 'toy', gen, shape, d, { intermediateSize: r.int('intermediate_size', d.intermediate), ropeTheta: r.num('rope_theta', 250_000) });
  },
  expectedTensors: (c) => qwen3Family.expectedTensors(c),
  ggufConfig: (r) => ({ intermediateSize: r.int('feed_forward_length') }),
  ggufSource: (c, name) => qwen3Family.ggufSource(c, name),
  nativeParams: (c) => ({ arch: 'qwen3', inter: c.intermediateSize }), // engine/native/models/qwen3.cpp runs it
};

/** A small config.json every built-in family accepts (each reads the keys it knows). */
const SMALL = {
  vocab_size: 512, hidden_size: 64, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16,
  intermediate_size: 96, moe_intermediate_size: 32, shared_expert_intermediate_size: 32, num_experts: 4, num_local_experts: 4,
  num_experts_per_tok: 2, rotary_dim: 8, linear_num_key_heads: 2, linear_num_value_heads: 4, linear_key_head_dim: 8, linear_value_head_dim: 8,
};

describe('model families: a new family is one registered module', () => {
  const unregister = registerFamily(TOY);
  afterAll(() => unregister());

  it('config.json parsing, expected tensors and the supported list come from the registered module', () => {
    const c = parseModelConfig({ architectures: ['ToyForCausalLM'], hidden_size: 32, num_attention_heads: 2 }, 'config.json');
    expect(c).toMatchObject({ arch: 'toy', vocabSize: 512, hiddenSize: 32, nLayers: 2, nHeads: 2, nKvHeads: 2, headDim: 16, intermediateSize: 96, ropeTheta: 250_000 });
    expect(familyOf(c)).toBe(TOY);
    const names = expectedTensors(c).map((t) => t.name);
    expect(names[0]).toBe('model.embed_tokens.weight');
    expect(names).toContain('model.layers.1.mlp.down_proj.weight');
    expect(() => parseModelConfig({ architectures: ['NopeForCausalLM'] }, 'config.json')).toThrow(UnsupportedModelError);
    expect(() => parseModelConfig({ architectures: ['NopeForCausalLM'] }, 'config.json')).toThrow(/supported: .*Qwen3ForCausalLM.*MiniMaxM2ForCausalLM.*ToyForCausalLM/);
  });

  it('GGUF metadata and tensor names come from the module', () => {
    const kv: Record<string, GgufMetaValue> = {
      'general.architecture': 'toy', 'toy.embedding_length': 64, 'toy.block_count': 2, 'toy.attention.head_count': 4,
      'toy.attention.head_count_kv': 2, 'toy.feed_forward_length': 96, 'toy.attention.layer_norm_rms_epsilon': 1e-6, 'toy.context_length': 4096,
    };
    const c = ggufModelConfig(new GgufMetadata('toy.gguf', new Map(Object.entries(kv))), { vocabSize: 512, hasOutput: false });
    expect(c).toMatchObject({ arch: 'toy', hiddenSize: 64, nLayers: 2, headDim: 16, intermediateSize: 96, tieWordEmbeddings: true });
    const bound = ggufBindingTensors(c);
    expect(bound.map((t) => t.name)).toEqual(expectedTensors(c).map((t) => t.name));
    expect(TOY.ggufSource(c, 'model.layers.1.self_attn.k_norm.weight')).toEqual({ gguf: 'blk.1.attn_k_norm.weight' });
    const other = new GgufMetadata('x.gguf', new Map(Object.entries({ ...kv, 'general.architecture': 'nope' })));
    expect(() => ggufModelConfig(other, { vocabSize: 512, hasOutput: false })).toThrow(/unsupported GGUF architecture 'nope'; supported: qwen3, qwen3moe, qwen35, qwen35moe, minimax-m2, toy/);
  });

  it('the native engine runs it through the forward file the module names: logits equal the same weights loaded as Qwen3', async () => {
    const m = await ensureModel('tiny', 'f32', { builtinTokenizer: true });
    const dir = mkdtempSync(join(tmpdir(), 'toy-family-'));
    const cfg = JSON.parse(readFileSync(join(m.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, architectures: ['ToyForCausalLM'], model_type: 'toy' }));
    for (const f of ['model.safetensors', 'generation_config.json']) if (existsSync(join(m.dir, f))) symlinkSync(join(m.dir, f), join(dir, f));
    const [qwen, toy] = [await loadModelSpec(m.dir), await loadModelSpec(dir)];
    expect(toy.config.arch).toBe('toy');
    expect({ ...toy.config, arch: 'qwen3' }).toEqual(qwen.config);
    const logits = async (spec: typeof qwen) => {
      const e = await loadEngine(spec, { threads: 1, maxBatchTokens: 16 });
      try {
        const [out] = await e.forward([{ slot: e.createSlot(16, 'f32'), tokens: [1, 5, 9, 200], logits: 'all' }]);
        return Array.from(out!.data);
      } finally {
        e.dispose();
      }
    };
    const [a, b] = [await logits(qwen), await logits(toy)];
    expect(b.length).toBe(4 * qwen.config.vocabSize);
    expect(b).toEqual(a);
    await expect(loadEngine({ ...toy, config: { ...toy.config, arch: 'nope' } })).rejects.toThrow(/'nope' belongs to no registered model family \(Qwen3: qwen3, qwen3moe; .*Toy: toy\)/);
  });

  it('refuses a second family claiming registered names', () => {
    expect(() => registerFamily({ ...TOY, name: 'Toy2', archs: ['toy2'], ggufArchitectures: ['toy2'] })).toThrow(/ToyForCausalLM already belong to Toy/);
  });
});

describe('every built-in family: its names round-trip through the registry', () => {
  for (const family of modelFamilies().slice(0, 3)) {
    it(`${family.name}: HF architectures → arch → family, GGUF names → family, every tensor has one GGUF source`, () => {
      expect(family.archs.length).toBeGreaterThan(0);
      const seenArchs = new Set<string>();
      for (const hf of family.hfArchitectures) {
        expect(familyOfHf([hf])).toEqual({ family, hfArchitecture: hf });
        expect(supportedHfArchitectures()).toContain(hf);
        const c = parseModelConfig({ architectures: [hf], ...SMALL }, `${hf}/config.json`);
        expect(family.archs).toContain(c.arch);
        expect(familyOf(c)).toBe(family);
        seenArchs.add(c.arch);
        // the GGUF names: the config's arch is a GGUF architecture of the same family, and every binding tensor maps to a distinct GGUF tensor (or expert slice)
        expect(family.ggufArchitectures).toContain(c.arch);
        expect(familyOfGguf(c.arch)).toBe(family);
        const gguf = { ...c, weightPrefix: c.weightPrefix && 'model.' };
        const sources = ggufBindingTensors(gguf).map((t) => {
          const s = family.ggufSource(gguf, t.name);
          expect(s, `${t.name} has no GGUF source`).toBeDefined();
          return `${s!.gguf}#${s!.slice ?? ''}`;
        });
        expect(new Set(sources).size).toBe(sources.length);
      }
      expect([...seenArchs].sort()).toEqual([...family.archs].sort()); // every variant is reachable from some HF name
      for (const g of family.ggufArchitectures) expect(familyOfGguf(g)).toBe(family);
    });
  }
});
