/**
 * The tokenizer of generated MiniMax-M2 models: a Qwen3-vocabulary tokenizer folder (Qwen3's real one or the
 * built-in one) plus the MiniMax template's markers as added special tokens, and tokenizer_config.json carrying
 * MiniMax's chat template. The real MiniMax tokenizer (≈200k BPE) cannot be downloaded here; a real folder's
 * tokenizer.json loads through the same tokenizer code.
 */
import { MINIMAX_CHAT_TEMPLATE } from '../tokens/minimax-chat-template.js';
import { MINIMAX_BOS, MINIMAX_EOS } from './model-presets.js';

/**
 * The MiniMax template's markers → ids after Qwen3's added tokens (151643…151668). The role markers are special (never
 * typed, dropped when decoding); the tool-call tags are plain added tokens, as `<think>` is, so decoded text keeps them
 * for the tool-call parser.
 */
export const MINIMAX_ADDED_TOKENS: { id: number; content: string; special: boolean }[] = [
  { id: MINIMAX_BOS, content: ']~!b[', special: true },
  { id: 151670, content: ']~b]', special: true },
  { id: MINIMAX_EOS, content: '[e~[', special: true },
  { id: 151672, content: '<minimax:tool_call>', special: false },
  { id: 151673, content: '</minimax:tool_call>', special: false },
];

/** tokenizer.json / tokenizer_config.json texts of a Qwen3-vocabulary tokenizer → the MiniMax test tokenizer's. */
export function minimaxTokenizerFiles(tokenizerJson: string, tokenizerConfigJson: string): { tokenizerJson: string; tokenizerConfigJson: string } {
  const tok = JSON.parse(tokenizerJson) as { added_tokens?: Record<string, unknown>[] };
  const added = (tok.added_tokens ?? []).filter((a) => !MINIMAX_ADDED_TOKENS.some((m) => m.id === a.id || m.content === a.content));
  for (const m of MINIMAX_ADDED_TOKENS) added.push({ id: m.id, content: m.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: m.special });
  tok.added_tokens = added.sort((a, b) => (a.id as number) - (b.id as number));
  const cfg = JSON.parse(tokenizerConfigJson) as Record<string, unknown>;
  const decoder = (cfg.added_tokens_decoder ?? {}) as Record<string, unknown>;
  for (const m of MINIMAX_ADDED_TOKENS) decoder[String(m.id)] = { content: m.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: m.special };
  Object.assign(cfg, {
    added_tokens_decoder: decoder,
    bos_token: ']~!b[',
    eos_token: '[e~[',
    pad_token: '[e~[',
    add_bos_token: false,
    chat_template: MINIMAX_CHAT_TEMPLATE,
  });
  return { tokenizerJson: JSON.stringify(tok), tokenizerConfigJson: JSON.stringify(cfg, null, 2) + '\n' };
}
