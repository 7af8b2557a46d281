/**
 * A ModelConfig from GGUF metadata (`general.architecture` of a registered family and its `<arch>.*` keys, as
 * convert_hf_to_gguf.py and engine/synth/gguf-writer.ts write them): the shared keys here, the family's own in its
 * module (engine/model/families/). Every key llama.cpp requires is required here; an option the forward does not
 * implement (RoPE scaling, other gating) is refused. Vocabulary size = rows of token_embd; tied = no `output.weight`.
 */
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import { ggufReader } from './families/gguf-helpers.js';
import { familyOfGguf, supportedGgufArchitectures } from './families/registry.js';
import type { GgufMetadata } from './gguf-reader.js';
import type { ModelConfig } from './model-spec.js';

/** Tokens llama.cpp treats as end of generation by their text (llama-vocab.cpp's EOT/EOG lists, the Qwen and MiniMax ones). */
const EOG_TEXTS = ['<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<end_of_turn>', '<|end|>', '<|return|>', '[e~['];

/** What the config needs beyond the metadata: the tensor facts it depends on. */
export interface GgufConfigFacts {
  /** Rows of token_embd (ne[1]). */
  vocabSize: number;
  /** Whether the file has `output.weight` (else the embedding is tied). */
  hasOutput: boolean;
}

/** Parses the architecture metadata of a GGUF into a ModelConfig. Throws ModelLoadError / UnsupportedModelError naming the file and key. */
export function ggufModelConfig(meta: GgufMetadata, facts: GgufConfigFacts): ModelConfig {
  const file = meta.path;
  const a = meta.string('general.architecture');
  const family = familyOfGguf(a);
  if (!family) throw new UnsupportedModelError(`${file}: unsupported GGUF architecture '${a}'; supported: ${supportedGgufArchitectures().join(', ')}`, file);
  const r = ggufReader(meta, a);
  const scaling = r.has('rope.scaling.type') ? meta.string(`${a}.rope.scaling.type`) : 'none';
  if (scaling !== 'none') r.unsupported(`rope.scaling.type '${scaling}'`);
  if (r.has('attention.sliding_window') && meta.number(`${a}.attention.sliding_window`) > 0) r.unsupported('sliding-window attention');

  const hiddenSize = r.int('embedding_length');
  const nLayers = r.int('block_count');
  const nHeads = r.int('attention.head_count');
  const nKvHeads = r.int('attention.head_count_kv', nHeads);
  const headDim = r.int('attention.key_length', Math.floor(hiddenSize / nHeads));
  if (r.int('attention.value_length', headDim) !== headDim) r.unsupported(`value_length ≠ key_length (${headDim})`);
  if (nHeads % nKvHeads !== 0) throw new ModelLoadError(`${file}: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`, file);
  if (headDim % 2 !== 0) throw new ModelLoadError(`${file}: key_length ${headDim} must be even`, file);
  const ropeDim = r.int('rope.dimension_count', headDim);
  const { intermediateSize, ...own } = family.ggufConfig(r, { hiddenSize, nLayers, nHeads, nKvHeads, headDim, ropeDim });

  // key order as before the registry: the fingerprint hashes this object's JSON
  const config: ModelConfig = {
    arch: a,
    vocabSize: facts.vocabSize,
    hiddenSize,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    intermediateSize,
    rmsNormEps: r.num('attention.layer_norm_rms_epsilon'),
    ropeTheta: r.num('rope.freq_base', 10000),
    maxPositionEmbeddings: r.int('context_length'),
    tieWordEmbeddings: !facts.hasOutput,
    eosTokenIds: ggufEndOfGenerationIds(meta),
  };
  if (meta.has('tokenizer.ggml.bos_token_id')) config.bosTokenId = meta.number('tokenizer.ggml.bos_token_id');
  return Object.assign(config, own);
}

/** End-of-generation ids: eos_token_id, eot_token_id, and the tokens llama.cpp treats as EOG by their text. */
export function ggufEndOfGenerationIds(meta: GgufMetadata): number[] {
  const ids = new Set<number>();
  for (const k of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id']) if (meta.has(k)) ids.add(meta.number(k));
  if (meta.has('tokenizer.ggml.tokens')) {
    const tokens = meta.strings('tokenizer.ggml.tokens');
    for (const t of EOG_TEXTS) {
      const id = tokens.indexOf(t);
      if (id >= 0) ids.add(id);
    }
  }
  return [...ids];
}
