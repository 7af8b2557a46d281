/**
 * Normalisation and pre-tokenisation of the BPE input, for `Sequence[Split…, ByteLevel]`
 * pre-tokenizers (Qwen, GPT-2 style): the same pieces as `@huggingface/tokenizers`, computed in
 * slices (time-slice.ts) so megabytes of text never hold the event loop.
 * - NFC runs chunk by chunk, cut before code points below U+0300 or in U+4E00–U+9FFF: starters that
 *   never compose with what precedes them, so NFC of the whole is the concatenation of the chunks'.
 * - Each Split runs the library's own compiled regex match by match (its `regex_split`: matches
 *   and the gaps between them, empty ones dropped).
 */
import { BYTE_CHAR } from './byte-char.js';
import type { Slicer, SlicedWork } from './time-slice.js';

/** The parts of the library's built pre-tokenizer this file uses. */
export interface HfPreTokenizer {
  (text: string, opts?: unknown): string[];
  tokenizers?: { pattern?: RegExp | null; config?: Record<string, any>; pre_tokenize_text(text: string, opts?: unknown): string[] }[];
}

/** Characters per NFC chunk. */
const NFC_CHUNK = 1 << 15;

/** Byte-level mapping of one pre-token (what the library's ByteLevel pre-tokenizer does, without a TextEncoder call per piece). */
export function byteLevel(piece: string): string {
  let out = '';
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c >= 128) {
      out = '';
      for (const b of Buffer.from(piece, 'utf8')) out += BYTE_CHAR[b];
      return out;
    }
    out += BYTE_CHAR[c];
  }
  return out;
}

/** True when NFC never joins text[i] with what precedes it (see the file comment). */
function stableStart(c: number): boolean {
  return c < 0x300 || (c >= 0x4e00 && c <= 0x9fff);
}

/** `text.normalize('NFC')`, chunk by chunk. */
export function* nfcSliced(text: string, slicer: Slicer): SlicedWork<string> {
  if (text.length <= NFC_CHUNK) return text.normalize('NFC');
  const parts: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + NFC_CHUNK, text.length);
    while (end < text.length && !stableStart(text.charCodeAt(end))) end++;
    parts.push(text.slice(start, end).normalize('NFC'));
    start = end;
    if (slicer.due(NFC_CHUNK)) yield;
  }
  return parts.join('');
}

/** The library's own splitting for `Sequence[Split…, ByteLevel(no regex, no prefix space)]` pre-tokenizers, then {@link byteLevel}; null → another kind. */
export function splitThenByteLevel(config: any, built: HfPreTokenizer | null): ((text: string) => string[]) | null {
  const steps = config?.type === 'Sequence' ? config.pretokenizers : null;
  const last = steps?.[steps.length - 1];
  const splits = built?.tokenizers?.slice(0, -1);
  if (!Array.isArray(steps) || !splits || splits.length !== steps.length - 1) return null;
  if (last?.type !== 'ByteLevel' || last.add_prefix_space || last.use_regex !== false) return null;
  if (!steps.slice(0, -1).every((s: any) => s?.type === 'Split')) return null;
  return (text) => {
    let pieces = [text];
    for (const split of splits) pieces = pieces.flatMap((p) => split.pre_tokenize_text(p));
    return pieces.map(byteLevel);
  };
}

/** Splits of a `Sequence[Split…, ByteLevel(no regex, no prefix space)]` pre-tokenizer, or null when it is another kind. */
export function splitRegexes(config: any, built: HfPreTokenizer | null): RegExp[] | null {
  if (!splitThenByteLevel(config, built)) return null;
  const steps = config.pretokenizers.slice(0, -1);
  if (!steps.every((s: any) => !s.invert && s.behavior?.toLowerCase() !== 'removed')) return null;
  const res = built!.tokenizers!.slice(0, -1).map((s) => s.pattern);
  return res.every((r): r is RegExp => r instanceof RegExp && r.global) ? res : null;
}

/** The library's `regex_split` of each text with each regex in turn (flat, in order). */
export function* splitSliced(texts: string[], regexes: readonly RegExp[], slicer: Slicer): SlicedWork<string[]> {
  for (const proto of regexes) {
    const re = new RegExp(proto); // own lastIndex: concurrent encodes interleave
    const out: string[] = [];
    for (const text of texts) {
      let prev = 0;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const at = m.index;
        const len = m[0].length;
        if (prev < at) out.push(text.slice(prev, at));
        if (len > 0) out.push(m[0]);
        else re.lastIndex = advance(text, at);
        prev = at + len;
        if (slicer.due()) yield;
      }
      if (prev < text.length) out.push(text.slice(prev));
    }
    texts = out;
  }
  return texts;
}

/** Index after the code point at `i` (what matchAll steps over after an empty match of a /u regex). */
function advance(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? i + 2 : i + 1;
}

/** Where our sliced byte-level BPE applies: the split regexes, whether the normaliser is NFC, the model's ignore_merges. */
export interface ByteBpeConfig {
  regexes: RegExp[];
  nfc: boolean;
  ignoreMerges: boolean;
}

/**
 * When our sliced byte-level BPE reproduces the library exactly: a plain BPE model (no byte fallback,
 * no suffixes, no unknown-token fusing), no normaliser or NFC, and a Split…+ByteLevel pre-tokenizer.
 */
export function byteBpeConfig(json: Record<string, any>, built: HfPreTokenizer | null): ByteBpeConfig | null {
  const m = json.model;
  if (m?.type !== undefined && m.type !== 'BPE') return null;
  if (m.byte_fallback || m.end_of_word_suffix || m.continuing_subword_suffix || m.continuing_subword_prefix || m.fuse_unk || m.dropout) return null;
  const norm = json.normalizer;
  if (norm && norm.type !== 'NFC') return null;
  const regexes = splitRegexes(json.pre_tokenizer, built);
  return regexes ? { regexes, nfc: !!norm, ignoreMerges: !!m.ignore_merges } : null;
}
