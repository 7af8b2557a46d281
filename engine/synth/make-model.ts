/**
 * Generates a complete Hugging Face Qwen3 / Qwen3.5 folder with deterministic random weights (for tests and
 * benchmarks): config.json, generation_config.json, model.safetensors (streamed), tokenizer files,
 * and optionally the same weights as GGUF for llama.cpp. Hybrids: see hybrid-config-json.ts and hybrid-init.ts.
 *
 * Init (see `initFor`): the scales make outputs peaked (top-1 probability usually > 0.3) and
 * attention clearly non-uniform (q/k norm gains ≈ 1.8 → attention-logit spread ≈ 3), while every
 * activation stays O(1..100), far below the f16 limit.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelLoadError } from '../errors.js';
import { encodeInto } from '../model/float-convert.js';
import { expectedTensors } from '../model/hf-model.js';
import type { ExpectedTensor, ModelConfig, WeightDType } from '../model/model-spec.js';
import { getPreset, presetNames } from './model-presets.js';
import { buildSafetensorsHeader, DTYPE_SIZE } from '../model/safetensors.js';
import { writeBuiltinTokenizer } from './builtin-tokenizer.js';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import type { GgufQuantType } from './gguf-quant.js';
import { mtpTensors } from '../model/families/qwen35-tensors.js';
import { hybridConfigJson } from './hybrid-config-json.js';
import { hybridInitFor } from './hybrid-init.js';
import { minimaxConfigJson, minimaxInitFor } from './minimax-synth.js';
import { minimaxTokenizerFiles } from './minimax-tokenizer.js';
import { fp8QuantizationConfig, fp8TensorChunks, fp8WrittenTensors, isFp8Quantized } from './fp8-synth.js';

/** make-model's weight formats: a float dtype, or Qwen's block-scaled FP8 layout (fp8-synth.ts). */
export type MakeModelDType = WeightDType | 'fp8';

/** Bumped whenever the generated weights or files change (caches key on it). */
export const MAKE_MODEL_VERSION = 1;

/** Options of makeModel. */
export interface MakeModelOptions {
  preset: string;
  dtype: MakeModelDType;
  /** Output folder; created if missing. Files are written atomically (engine/util/atomic-file.ts). */
  out: string;
  seed?: number;
  /** Also write the weights as GGUF to this path. */
  gguf?: string;
  /** The GGUF's matrix type: a quantized file type (engine/synth/gguf-quant.ts); default the checkpoint's dtype. */
  ggufType?: GgufQuantType;
  /** Folder with tokenizer.json + tokenizer_config.json to copy; default (or `false`) the built-in tokenizer. */
  tokenizerDir?: string | false;
}

/** What makeModel wrote. */
export interface MakeModelResult {
  dir: string;
  gguf?: string;
  config: ModelConfig;
  params: number;
  tokenizer: 'copied' | 'builtin';
}

/** Thrown for an unknown preset name. */
export class UnknownPresetError extends ModelLoadError {
  override name = 'UnknownPresetError';
  override code = 'unknown_preset';
  override status = 400;
}

/**
 * The gains of the random init (see `initFor`). RANDOM_GAINS is every Qwen3 preset's default; a preset may set its
 * own (`ModelPreset.init`, e.g. tiny-256-calm's trained-like conditioning).
 */
export interface InitGains {
  /** Std of the output logits over the vocabulary. */
  logitSpread: number;
  /** q_norm/k_norm weight: attention logits have std ≈ qkGain². */
  qkGain: number;
  /** Std of router logits (MoE). */
  routerSpread: number;
  /** Residual update of each attention sublayer, in rms of a unit-rms input (o_proj gain). */
  attnOutGain: number;
  /** Residual update of each MLP sublayer (down_proj gain). */
  mlpOutGain: number;
}

/**
 * Random-model gains: each sublayer adds a residual update of rms ≈ 1.5 × the embedding's rms (so the output is
 * not just the current token), logits ≈ N(0, 10²), attention-logit spread ≈ 3.
 */
export const RANDOM_GAINS: InitGains = { logitSpread: 10, qkGain: 1.8, routerSpread: 2, attnOutGain: 2, mlpOutGain: 2.5 };

/** Per-tensor init: value = mean + std·n, n ≈ N(0,1) (Irwin–Hall of 4 bytes, |n| ≤ 3.45). */
export function initFor(name: string, c: ModelConfig, g: InitGains = RANDOM_GAINS): { mean: number; std: number } {
  const H = c.hiddenSize;
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return { mean: 0, std: 1 };
  if (name === 'model.norm.weight') {
    const m = g.logitSpread / Math.sqrt(H); // logits ≈ N(0, logitSpread²) over the vocabulary
    return { mean: m, std: 0.05 * m };
  }
  if (name.endsWith('q_norm.weight') || name.endsWith('k_norm.weight')) return { mean: g.qkGain, std: 0.1 };
  if (name.endsWith('layernorm.weight')) return { mean: 1, std: 0.05 };
  if (name.endsWith('mlp.gate.weight')) return { mean: 0, std: g.routerSpread / Math.sqrt(H) };
  if (/(q|k|v)_proj\.weight$/.test(name) || /(gate|up)_proj\.weight$/.test(name)) return { mean: 0, std: 1 / Math.sqrt(H) };
  if (name.endsWith('o_proj.weight')) return { mean: 0, std: g.attnOutGain / Math.sqrt(c.nHeads * c.headDim) };
  if (name.endsWith('down_proj.weight')) {
    const inner = name.includes('.experts.') ? c.moe!.moeIntermediateSize : c.intermediateSize;
    // k experts mixed with weights summing to 1 shrink the rms by ≈ √k: compensate.
    const scale = name.includes('.experts.') ? Math.sqrt(c.moe!.numExpertsPerTok) : 1;
    return { mean: 0, std: (g.mlpOutGain * scale) / Math.sqrt(inner) };
  }
  throw new ModelLoadError(`no init rule for tensor '${name}'`, undefined, name);
}

/** A seeded stream of ≈N(0,1) values: xoshiro128** seeded by splitmix32 of (seed, FNV-1a(name)). */
export class WeightStream {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  constructor(seed: number, name: string) {
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    let x = (h ^ Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.floor(seed / 2 ** 32)) >>> 0;
    const split = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = split();
    this.s1 = split();
    this.s2 = split();
    this.s3 = split() | 1;
  }
  /** Fills `out` with mean + std·n. */
  fill(out: Float32Array, mean: number, std: number): void {
    let { s0, s1, s2, s3 } = this;
    const k = std / 147.80054127; // sqrt(4 · (256² − 1) / 12)
    const m = mean - 510 * k;
    for (let i = 0; i < out.length; i++) {
      const r = Math.imul(((Math.imul(s1, 5) << 7) | (Math.imul(s1, 5) >>> 25)), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = m + k * ((r & 255) + ((r >>> 8) & 255) + ((r >>> 16) & 255) + (r >>> 24));
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

/** True for Qwen3.5 / 3.6 hybrid configs. */
const isHybrid = (c: ModelConfig) => c.arch === 'qwen35' || c.arch === 'qwen35moe';

/** config.json contents in Hugging Face's form (fp8: the BF16 config plus Qwen's quantization_config). */
export function hfConfigJson(c: ModelConfig, dtype: MakeModelDType): Record<string, unknown> {
  if (dtype === 'fp8') {
    if (c.arch === 'minimax-m2') throw new ModelLoadError('make-model --dtype fp8 writes Qwen3 / Qwen3.5 layouts; MiniMax-M2 FP8 is not supported');
    return { ...hfConfigJson(c, 'bf16'), quantization_config: fp8QuantizationConfig(tensorsToWrite(c)) };
  }
  if (isHybrid(c)) return hybridConfigJson(c, dtype);
  if (c.arch === 'minimax-m2') return minimaxConfigJson(c, dtype);
  const torchDtype = { bf16: 'bfloat16', f16: 'float16', f32: 'float32' }[dtype];
  const j: Record<string, unknown> = {
    architectures: [c.arch === 'qwen3' ? 'Qwen3ForCausalLM' : 'Qwen3MoeForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: c.bosTokenId ?? 151643,
    eos_token_id: c.eosTokenIds[0] ?? 151645,
    head_dim: c.headDim,
    hidden_act: 'silu',
    hidden_size: c.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    max_window_layers: c.nLayers,
    model_type: c.arch === 'qwen3' ? 'qwen3' : 'qwen3_moe',
    num_attention_heads: c.nHeads,
    num_hidden_layers: c.nLayers,
    num_key_value_heads: c.nKvHeads,
    rms_norm_eps: c.rmsNormEps,
    rope_scaling: null,
    rope_theta: c.ropeTheta,
    sliding_window: null,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: torchDtype,
    transformers_version: '4.51.0',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: c.vocabSize,
  };
  if (c.moe) {
    Object.assign(j, {
      decoder_sparse_step: c.moe.decoderSparseStep,
      mlp_only_layers: c.moe.mlpOnlyLayers,
      moe_intermediate_size: c.moe.moeIntermediateSize,
      norm_topk_prob: c.moe.normTopkProb,
      num_experts: c.moe.numExperts,
      num_experts_per_tok: c.moe.numExpertsPerTok,
      output_router_logits: false,
      router_aux_loss_coef: 0.001,
    });
  }
  return j;
}

const CHUNK = 1 << 20;

/** The tensors make-model writes: every expected one, plus the MTP head of hybrids (as the real checkpoints ship it). */
function tensorsToWrite(c: ModelConfig): ExpectedTensor[] {
  return isHybrid(c) ? [...expectedTensors(c), ...mtpTensors(c)] : expectedTensors(c);
}

/** Streams the weights of every tensor to write into `file` (safetensors); returns the parameter count. */
function writeWeights(file: string, c: ModelConfig, dtype: MakeModelDType, seed: number, gains?: InitGains): number {
  const specs = tensorsToWrite(c);
  const fp8 = dtype === 'fp8';
  const written = specs.flatMap((t) => (fp8 ? fp8WrittenTensors(t) : [{ name: t.name, shape: t.shape, dtype }]));
  const { prefix } = buildSafetensorsHeader(written, { format: 'pt' });
  const floatType = fp8 ? 'bf16' : dtype;
  function* chunks(): Generator<Uint8Array> {
    yield prefix;
    const vals = new Float32Array(CHUNK);
    const bytes = Buffer.alloc(CHUNK * DTYPE_SIZE[floatType]);
    for (const t of specs) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const { mean, std } = isHybrid(c) ? hybridInitFor(t, c) : c.arch === 'minimax-m2' ? minimaxInitFor(t.name, c) : initFor(t.name, c, gains);
      const stream = new WeightStream(seed, t.name);
      if (fp8 && isFp8Quantized(t)) {
        yield* fp8TensorChunks(t, stream, mean, std);
        continue;
      }
      for (let done = 0; done < n; done += CHUNK) {
        const part = vals.subarray(0, Math.min(CHUNK, n - done));
        stream.fill(part, mean, std);
        yield bytes.subarray(0, encodeInto(floatType, part, bytes));
      }
    }
  }
  writeFileAtomicSync(file, chunks());
  return specs.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

/** Generates the model folder (and GGUF file) described by `opts`. Deterministic for a given preset, dtype and seed. */
export async function makeModel(opts: MakeModelOptions): Promise<MakeModelResult> {
  const preset = getPreset(opts.preset);
  if (!preset) throw new UnknownPresetError(`unknown preset '${opts.preset}'; known: ${presetNames().join(', ')}`);
  const c = preset.config;
  const seed = opts.seed ?? 0;
  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });

  writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify(hfConfigJson(c, opts.dtype), null, 2) + '\n');
  const gen = {
    bos_token_id: c.bosTokenId ?? 151643,
    do_sample: true,
    eos_token_id: c.eosTokenIds,
    pad_token_id: c.bosTokenId ?? 151643,
    temperature: 0.6,
    top_k: 20,
    top_p: 0.95,
    transformers_version: '4.51.0',
  };
  writeFileAtomicSync(join(dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');

  const tokDir = opts.tokenizerDir || undefined;
  let tokenizer: MakeModelResult['tokenizer'];
  let tokFiles: { tokenizerJson: string | Buffer; tokenizerConfigJson: string | Buffer };
  if (tokDir) {
    const read = (f: string) => {
      const src = join(tokDir, f);
      if (!existsSync(src)) throw new ModelLoadError(`tokenizer folder ${tokDir} has no ${f}`, src);
      return readFileSync(src);
    };
    tokFiles = { tokenizerJson: read('tokenizer.json'), tokenizerConfigJson: read('tokenizer_config.json') };
    tokenizer = 'copied';
  } else {
    tokFiles = writeBuiltinTokenizer();
    tokenizer = 'builtin';
  }
  // MiniMax presets: the Qwen3 vocabulary plus the MiniMax template's markers and the template itself
  if (preset.vocabulary === 'minimax') tokFiles = minimaxTokenizerFiles(tokFiles.tokenizerJson.toString(), tokFiles.tokenizerConfigJson.toString());
  writeFileAtomicSync(join(dir, 'tokenizer.json'), tokFiles.tokenizerJson, { mode: 0o644 }); // the source may be read-only
  writeFileAtomicSync(join(dir, 'tokenizer_config.json'), tokFiles.tokenizerConfigJson, { mode: 0o644 });

  const params = writeWeights(join(dir, 'model.safetensors'), c, opts.dtype, seed, preset.init);
  const result: MakeModelResult = { dir, config: c, params, tokenizer };
  if (opts.gguf) {
    const { writeGgufFromFolder } = await import('./gguf-writer.js');
    result.gguf = resolve(opts.gguf);
    await writeGgufFromFolder(dir, result.gguf, { name: `resident-${opts.preset}-s${seed}`, ...(opts.ggufType ? { matrixDtype: opts.ggufType } : {}) });
  }
  return result;
}
