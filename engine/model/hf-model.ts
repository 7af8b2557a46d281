/**
 * Loads a Hugging Face Qwen3 / Qwen3-MoE / Qwen3.5 (-MoE) / MiniMax-M2 model folder into a validated ModelSpec:
 * config.json (+ generation_config.json), model.safetensors or a sharded model.safetensors.index.json.
 * Only headers are read; the native engine mmaps the tensor data through the returned TensorRefs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import type { ExpectedTensor, ModelConfig, ModelSpec, TensorRef, WeightDType } from './model-spec.js';
import { readSafetensorsHeader, type SafetensorsHeader, type StoredTensorRef } from './safetensors.js';
import { parseFp8Config, resolveStoredTensors } from './fp8-weights.js';
import { HYBRID_ARCHITECTURES, hybridDefaults, mergeTextConfig, parseHybridConfig } from './qwen35-config.js';
import { hybridExpectedTensors, isIgnoredHybridTensor } from './qwen35-tensors.js';
import { MINIMAX_ARCHITECTURES, MINIMAX_DEFAULTS, minimaxExpectedTensors, parseMinimaxConfig } from './minimax-m2.js';

export type { ExpectedTensor } from './model-spec.js';

/** True when layer `i` of the model uses the sparse MoE block (HF's Qwen3Moe rule; every layer of a Qwen3.5-MoE). */
export function isMoeLayer(config: ModelConfig, i: number): boolean {
  const m = config.moe;
  if (!m || m.numExperts <= 0) return false;
  return !m.mlpOnlyLayers.includes(i) && (i + 1) % m.decoderSparseStep === 0;
}

/** Every tensor a checkpoint must hold, in canonical order (embedding, layers, norm, head); hybrids: see qwen35-tensors.ts. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  if (config.arch === 'qwen35' || config.arch === 'qwen35moe') return hybridExpectedTensors(config);
  if (config.arch === 'minimax-m2') return minimaxExpectedTensors(config);
  const { vocabSize: V, hiddenSize: H, nHeads, nKvHeads, headDim: D, intermediateSize: I } = config;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [V, H], kind: 'matrix' }];
  const mat = (name: string, shape: number[]) => out.push({ name, shape, kind: 'matrix' });
  const norm = (name: string, n: number) => out.push({ name, shape: [n], kind: 'norm' });
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}.`;
    norm(`${p}input_layernorm.weight`, H);
    mat(`${p}self_attn.q_proj.weight`, [nHeads * D, H]);
    mat(`${p}self_attn.k_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.v_proj.weight`, [nKvHeads * D, H]);
    mat(`${p}self_attn.o_proj.weight`, [H, nHeads * D]);
    norm(`${p}self_attn.q_norm.weight`, D);
    norm(`${p}self_attn.k_norm.weight`, D);
    norm(`${p}post_attention_layernorm.weight`, H);
    if (isMoeLayer(config, i)) {
      const m = config.moe!;
      mat(`${p}mlp.gate.weight`, [m.numExperts, H]);
      for (let e = 0; e < m.numExperts; e++) {
        mat(`${p}mlp.experts.${e}.gate_proj.weight`, [m.moeIntermediateSize, H]);
        mat(`${p}mlp.experts.${e}.up_proj.weight`, [m.moeIntermediateSize, H]);
        mat(`${p}mlp.experts.${e}.down_proj.weight`, [H, m.moeIntermediateSize]);
      }
    } else {
      mat(`${p}mlp.gate_proj.weight`, [I, H]);
      mat(`${p}mlp.up_proj.weight`, [I, H]);
      mat(`${p}mlp.down_proj.weight`, [H, I]);
    }
  }
  norm('model.norm.weight', H);
  if (!config.tieWordEmbeddings) mat('lm_head.weight', [V, H]);
  return out;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot read: ${(err as Error).message}`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${file}: not valid JSON: ${(err as Error).message}`, file);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelLoadError(`${file}: not a JSON object`, file);
  return json as Record<string, unknown>;
}

function idList(v: unknown): number[] {
  if (Number.isInteger(v)) return [v as number];
  if (Array.isArray(v)) return v.filter((x) => Number.isInteger(x)) as number[];
  return [];
}

/**
 * Parses config.json (+ generation_config.json contents, if any) into a ModelConfig with Qwen3Config's defaults
 * (Qwen3_5TextConfig's for hybrids, whose text settings may sit under `text_config`).
 * Throws UnsupportedModelError for other architectures or options the engine cannot honor.
 */
export function parseModelConfig(rawIn: Record<string, unknown>, file: string, gen?: Record<string, unknown>): ModelConfig {
  const archs = Array.isArray(rawIn.architectures) ? (rawIn.architectures as unknown[]).map(String) : [];
  let arch: ModelConfig['arch'];
  const hybrid = archs.map((a) => HYBRID_ARCHITECTURES[a]).find((h) => h !== undefined);
  if (archs.includes('Qwen3ForCausalLM')) arch = 'qwen3';
  else if (archs.includes('Qwen3MoeForCausalLM')) arch = 'qwen3moe';
  else if (hybrid) arch = hybrid.arch;
  else if (archs.some((a) => MINIMAX_ARCHITECTURES.includes(a))) arch = 'minimax-m2';
  else {
    const what = archs.length ? archs.join(', ') : `none (model_type ${String(rawIn.model_type ?? 'missing')})`;
    const known = ['Qwen3ForCausalLM', 'Qwen3MoeForCausalLM', ...Object.keys(HYBRID_ARCHITECTURES), ...MINIMAX_ARCHITECTURES].join(', ');
    throw new UnsupportedModelError(`${file}: unsupported architecture ${what}; supported: ${known}`, file);
  }
  const raw = hybrid ? mergeTextConfig(rawIn) : rawIn;
  const moeDefaults = arch === 'qwen3moe';
  const minimax = arch === 'minimax-m2';
  const hd = hybrid ? hybridDefaults(hybrid.arch) : minimax ? MINIMAX_DEFAULTS : undefined;
  const int = (key: string, def: number, min = 1): number => {
    const v = raw[key] ?? def;
    if (!Number.isSafeInteger(v) || (v as number) < min) throw new ModelLoadError(`${file}: ${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`, file);
    return v as number;
  };
  const num = (key: string, def: number): number => {
    const v = raw[key] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${file}: ${key} must be a positive number, got ${JSON.stringify(v)}`, file);
    return v;
  };
  const unsupported = (what: string): never => {
    throw new UnsupportedModelError(`${file}: ${what} is not supported`, file);
  };

  const hiddenSize = int('hidden_size', hd?.hidden ?? (moeDefaults ? 2048 : 4096));
  const nHeads = int('num_attention_heads', hd?.heads ?? 32);
  const nKvHeads = int('num_key_value_heads', hd?.kvHeads ?? (moeDefaults ? 4 : nHeads));
  const headDim = raw.head_dim == null ? (hd?.headDim ?? Math.floor(hiddenSize / nHeads)) : int('head_dim', 0);
  if (nHeads % nKvHeads !== 0) throw new ModelLoadError(`${file}: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`, file);
  if (headDim % 2 !== 0 || headDim <= 0) throw new ModelLoadError(`${file}: head_dim ${headDim} must be even and positive`, file);

  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') unsupported(`hidden_act '${String(act)}'`);
  if (raw.attention_bias === true) unsupported('attention_bias: true');
  if (raw.use_sliding_window === true) unsupported('use_sliding_window: true');
  if (!hybrid) {
    if (Array.isArray(raw.layer_types) && raw.layer_types.some((t) => t !== 'full_attention')) unsupported(`layer_types other than full_attention`);
    const rs = raw.rope_scaling as Record<string, unknown> | null | undefined;
    if (rs != null) {
      const type = rs.rope_type ?? rs.type;
      if (type !== 'default') unsupported(`rope_scaling type '${String(type)}'`);
    }
  }

  const eos = [...idList(gen?.eos_token_id), ...idList(raw.eos_token_id)];
  const bos = idList(gen?.bos_token_id ?? raw.bos_token_id)[0];
  const nLayers = int('num_hidden_layers', hd?.layers ?? (moeDefaults ? 24 : 32));
  const extra = hybrid ? parseHybridConfig(raw, file, nLayers, headDim, int) : undefined;
  const config: ModelConfig = {
    arch,
    vocabSize: int('vocab_size', hd?.vocab ?? 151936),
    hiddenSize,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    intermediateSize: arch === 'qwen35moe' || minimax ? 0 : int('intermediate_size', hd?.intermediate ?? (moeDefaults ? 6144 : 22016)),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: extra?.ropeTheta ?? num('rope_theta', minimax ? 5_000_000 : 10000),
    maxPositionEmbeddings: int('max_position_embeddings', 32768),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    eosTokenIds: [...new Set(eos)],
  };
  if (bos !== undefined) config.bosTokenId = bos;
  if (arch === 'qwen3moe' || arch === 'qwen35moe') config.moe = parseMoe(raw, file, int, arch === 'qwen35moe');
  if (minimax) Object.assign(config, parseMinimaxConfig(raw, file, headDim, int));
  if (extra && hybrid) {
    const { ropeTheta: _, ...fields } = extra;
    Object.assign(config, fields, { weightPrefix: hybrid.prefix });
  }
  return config;
}

/** MoE keys: Qwen3-MoE's, or Qwen3.5-MoE's (every layer sparse, top-k weights always renormalised, one shared expert). */
function parseMoe(raw: Record<string, unknown>, file: string, int: (key: string, def: number, min?: number) => number, hybrid: boolean): NonNullable<ModelConfig['moe']> {
  const numExperts = int('num_experts', hybrid ? 256 : 128);
  const numExpertsPerTok = int('num_experts_per_tok', 8);
  if (numExpertsPerTok > numExperts) throw new ModelLoadError(`${file}: num_experts_per_tok ${numExpertsPerTok} > num_experts ${numExperts}`, file);
  const mlpOnly = raw.mlp_only_layers ?? [];
  if (!Array.isArray(mlpOnly) || !mlpOnly.every((x) => Number.isInteger(x))) throw new ModelLoadError(`${file}: mlp_only_layers must be a list of integers`, file);
  if (!hybrid) {
    return {
      numExperts,
      numExpertsPerTok,
      normTopkProb: raw.norm_topk_prob === true,
      moeIntermediateSize: int('moe_intermediate_size', 768),
      decoderSparseStep: int('decoder_sparse_step', 1),
      mlpOnlyLayers: mlpOnly as number[],
    };
  }
  if (mlpOnly.length > 0 || (raw.decoder_sparse_step ?? 1) !== 1) throw new UnsupportedModelError(`${file}: dense layers in a Qwen3.5-MoE (mlp_only_layers / decoder_sparse_step) are not supported`, file);
  return {
    numExperts,
    numExpertsPerTok,
    normTopkProb: true,
    moeIntermediateSize: int('moe_intermediate_size', 512),
    decoderSparseStep: 1,
    mlpOnlyLayers: [],
    sharedExpertIntermediateSize: int('shared_expert_intermediate_size', 512),
  };
}

/** Finds the safetensors files of a folder: `model.safetensors`, else the shards of `model.safetensors.index.json`. */
function shardHeaders(dir: string): { headers: SafetensorsHeader[]; weightMap?: Map<string, string> } {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return { headers: [readSafetensorsHeader(single)] };
  const indexFile = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexFile)) throw new ModelLoadError(`${dir}: no model.safetensors or model.safetensors.index.json`, single);
  const index = readJson(indexFile);
  const wm = index.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new ModelLoadError(`${indexFile}: missing weight_map`, indexFile);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new ModelLoadError(`${indexFile}: weight_map entry for '${name}' is not a file name in the folder`, indexFile, name);
    }
    weightMap.set(name, join(dir, shard));
  }
  const files = [...new Set(weightMap.values())].sort();
  return { headers: files.map((f) => readSafetensorsHeader(f)), weightMap };
}

/**
 * Hybrid checkpoints: every tensor must be expected, or the vision tower / MTP head (recognised, not loaded).
 * Anything else means a variant we would silently run wrong (a conv bias, per-expert weights, …).
 */
function rejectUnknownTensors(found: Map<string, TensorRef<WeightDType>>, expected: ExpectedTensor[]): void {
  const names = new Set(expected.map((e) => e.name));
  for (const [name, ref] of found) {
    if (!names.has(name) && !isIgnoredHybridTensor(name)) {
      throw new UnsupportedModelError(`${ref.file}: unexpected tensor '${name}' for this architecture (not a text, vision or MTP tensor we know)`, ref.file, name);
    }
  }
}

/** Loads and validates a Hugging Face model folder. Throws ModelLoadError / UnsupportedModelError naming file and tensor. */
export async function loadModelSpec(dirIn: string): Promise<ModelSpec<WeightDType>> {
  const dir = resolve(dirIn);
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new ModelLoadError(`${dir}: not a model folder (no config.json)`, configFile);
  const genFile = join(dir, 'generation_config.json');
  const gen = existsSync(genFile) ? readJson(genFile) : undefined;
  const rawConfig = readJson(configFile);
  const config = parseModelConfig(rawConfig, configFile, gen);
  const fp8 = parseFp8Config(rawConfig, configFile);

  const { headers, weightMap } = shardHeaders(dir);
  const stored = new Map<string, StoredTensorRef>();
  for (const h of headers) {
    for (const t of h.tensors) {
      if (weightMap && weightMap.get(t.name) !== h.file) continue; // only the shard the index names counts
      stored.set(t.name, { name: t.name, file: h.file, offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, shape: t.shape });
    }
  }
  // FP8 (e4m3, block scales) matrices → BF16 converted at load; Qwen3.5-MoE per-expert matrices → fused (fp8-weights.ts)
  const { tensors: found, fingerprintTag } = resolveStoredTensors(stored, fp8, config);
  const tensors: TensorRef<WeightDType>[] = [];
  let dtype: WeightDType | undefined;
  const expected = expectedTensors(config);
  if (config.arch !== 'qwen3' && config.arch !== 'qwen3moe') rejectUnknownTensors(found, expected);
  for (const e of expected) {
    const ref = found.get(e.name);
    const where = weightMap?.get(e.name) ?? headers[0]!.file;
    if (!ref) throw new ModelLoadError(`${where}: missing tensor '${e.name}' (expected shape [${e.shape.join(', ')}])`, where, e.name);
    if (ref.shape.length !== e.shape.length || ref.shape.some((d, k) => d !== e.shape[k])) {
      throw new ModelLoadError(`${ref.file}: tensor '${e.name}' has shape [${ref.shape.join(', ')}], expected [${e.shape.join(', ')}]`, ref.file, e.name);
    }
    if (e.kind === 'matrix') {
      dtype ??= ref.dtype;
      if (ref.dtype !== dtype) {
        throw new UnsupportedModelError(`${ref.file}: tensor '${e.name}' is ${ref.dtype} but the other matrices are ${dtype}; mixed matrix dtypes are not supported`, ref.file, e.name);
      }
    }
    tensors.push(ref);
  }

  const hash = createHash('sha256');
  hash.update(JSON.stringify(config));
  for (const t of tensors) hash.update(`\n${t.name}:${t.dtype}:${t.shape.join('x')}`);
  for (const h of headers) hash.update(`\n${basename(h.file)}:${h.fileSize}`);
  if (fingerprintTag) hash.update(`\nquantization:${fingerprintTag}`);
  return { dir, config, tensors, dtype: dtype!, fingerprint: hash.digest('hex') };
}
