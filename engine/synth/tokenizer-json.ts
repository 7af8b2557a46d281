/**
 * The Hugging Face files of a Qwen-style byte-level BPE tokenizer: `tokenizer.json` (optional
 * normalizer, `Split(regex, Isolated)` then `ByteLevel` without its own regex, ByteLevel decoder,
 * BPE model) and `tokenizer_config.json` (Qwen2Tokenizer class, added tokens, chat template).
 * Shared by the built-in tokenizer and the Qwen3.5 tokenizer built from a GGUF vocabulary.
 */

/** An added token: `special` ones are control tokens (never produced from untrusted text). */
export interface AddedTokenSpec {
  id: number;
  content: string;
  special: boolean;
}

/** What a byte-level BPE tokenizer.json is made of. */
export interface ByteLevelBpeSpec {
  /** Token string (byte-level alphabet) → id; a null-prototype object is safest (tokens such as `__proto__`). */
  vocab: Record<string, number>;
  /** Merges as `"a b"`, highest priority first. */
  merges: string[];
  added: readonly AddedTokenSpec[];
  /** Pre-tokenizer split pattern in Oniguruma syntax, as Hugging Face writes it. */
  splitRegex: string;
  /** Unicode normalization before pre-tokenization, or none. */
  normalizer: 'NFC' | null;
}

/** Fields of tokenizer_config.json that differ between Qwen tokenizers. */
export interface QwenConfigSpec {
  added: readonly AddedTokenSpec[];
  chatTemplate: string;
  eosToken: string;
  padToken: string;
  /** Id of the added token left out of `additional_special_tokens` (Hugging Face lists `<|endoftext|>` as pad/eos, not there). */
  firstAddedId: number;
  modelMaxLength: number;
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false } as const;

const addedEntry = (t: AddedTokenSpec) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special });

/** The tokenizer.json object. */
export function byteLevelBpeTokenizerJson(spec: ByteLevelBpeSpec): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.added.map(addedEntry),
    normalizer: spec.normalizer ? { type: spec.normalizer } : null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: spec.splitRegex }, behavior: 'Isolated', invert: false }, BYTE_LEVEL],
    },
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: spec.vocab,
      merges: spec.merges,
    },
  };
}

/** The tokenizer_config.json object (Qwen2Tokenizer: no BOS, `errors: replace`, no clean-up of spaces). */
export function qwenTokenizerConfig(spec: QwenConfigSpec): Record<string, unknown> {
  const addedDecoder: Record<string, unknown> = {};
  for (const t of spec.added) {
    addedDecoder[String(t.id)] = { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special };
  }
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedDecoder,
    additional_special_tokens: spec.added.filter((t) => t.special && t.id !== spec.firstAddedId).map((t) => t.content),
    bos_token: null,
    chat_template: spec.chatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: spec.eosToken,
    errors: 'replace',
    model_max_length: spec.modelMaxLength,
    pad_token: spec.padToken,
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
}

/** JSON text as the generators write it (two-space indent, trailing newline). */
export const jsonFile = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';
