/**
 * Loads a Hugging Face model folder of any registered family (engine/model/families/) into a validated ModelSpec:
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
import { isMoeLayer, type ModelFamily } from './families/family.js';
import { configReader } from './families/hf-config.js';
import { familyOf, familyOfHf, supportedHfArchitectures } from './families/registry.js';

export type { ExpectedTensor } from './model-spec.js';
export { isMoeLayer };

/** Every tensor a checkpoint must hold, in canonical order (embedding, layers, norm, head): the config's family's list. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  return familyOf(config).expectedTensors(config);
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

/**
 * Parses config.json (+ generation_config.json contents, if any) into a ModelConfig: the family registered for its
 * `architectures` (engine/model/families/registry.ts) reads it with its *Config defaults.
 * Throws UnsupportedModelError for other architectures (naming the supported ones) or options the engine cannot honor.
 */
export function parseModelConfig(raw: Record<string, unknown>, file: string, gen?: Record<string, unknown>): ModelConfig {
  const archs = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]).map(String) : [];
  const found = familyOfHf(archs);
  if (!found) {
    const what = archs.length ? archs.join(', ') : `none (model_type ${String(raw.model_type ?? 'missing')})`;
    throw new UnsupportedModelError(`${file}: unsupported architecture ${what}; supported: ${supportedHfArchitectures().join(', ')}`, file);
  }
  return found.family.parseHfConfig(configReader(raw, file), found.hfArchitecture, gen);
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
 * Families that name what they ignore (hybrids, MiniMax): every tensor must be expected, or one the family recognises
 * and leaves out (a vision tower, an MTP head). Anything else means a variant we would silently run wrong.
 */
function rejectUnknownTensors(family: ModelFamily, found: Map<string, TensorRef<WeightDType>>, expected: ExpectedTensor[]): void {
  if (!family.ignoredTensor) return;
  const names = new Set(expected.map((e) => e.name));
  for (const [name, ref] of found) {
    if (!names.has(name) && !family.ignoredTensor(name)) {
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
  const family = familyOf(config, configFile);
  const expected = family.expectedTensors(config);
  rejectUnknownTensors(family, found, expected);
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
