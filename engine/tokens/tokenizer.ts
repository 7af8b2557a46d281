/**
 * Tokenizer loaded from a Hugging Face folder (`tokenizer.json` + `tokenizer_config.json`).
 *
 * BPE, normaliser, pre-tokeniser and decoder come from `@huggingface/tokenizers`; the splitting of
 * text on added tokens is ours, so that special tokens are recognised only where the caller trusts
 * the text (template framing), never in user text.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { TokenBudgetError, TokenizerError } from './errors.js';
import { BYTE_CHAR } from './byte-char.js';
import { TokenBound } from './token-bound.js';
import { byteBpeConfig, splitThenByteLevel, type ByteBpeConfig, type HfPreTokenizer } from './pre-tokens.js';
import { SlicedBpe } from './sliced-bpe.js';
import { runSliced, runToEnd, Slicer, type SlicedWork } from './time-slice.js';
import { OFFLOAD_CHARS, TokenizerOffload } from './tokenizer-offload.js';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Recognise special added tokens (`<|im_start|>`…) in the text. Default false: they encode as plain text. Use only for trusted framing. */
  allowSpecial?: boolean;
  /** Recognise non-special added tokens (`<think>`, `<tool_call>`…), as Hugging Face does. Default true. */
  allowAdded?: boolean;
}

/** Options of {@link Tokenizer.encodeSegments}. */
export interface SegmentsOptions extends Pick<EncodeOptions, 'allowAdded'> {
  /** Refuse (TokenBudgetError) without running BPE when the text provably needs more tokens than this. */
  maxTokens?: number;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens from the text. Default false. */
  skipSpecial?: boolean;
}

/** A piece of text to encode; special tokens are recognised only in `trusted` pieces. */
export interface TextSegment {
  text: string;
  trusted: boolean;
}

/** An added token of the vocabulary. */
export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

type Pipe = ((text: string, opts?: unknown) => string | string[]) | null;
interface HfInternals {
  normalizer: Pipe;
  pre_tokenizer: HfPreTokenizer | null;
  model: ((tokens: string[]) => string[]) & { tokens_to_ids: Map<string, number>; vocab: (string | undefined)[]; merges?: [string, string][] };
}

export { BYTE_CHAR };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function alternation(tokens: AddedTokenInfo[]): RegExp | null {
  if (tokens.length === 0) return null;
  const sorted = tokens.map((t) => t.content).sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRe).join('|'), 'g');
}

/** A loaded tokenizer. Ids of special tokens always come from the vocabulary files, never from constants. */
export class Tokenizer {
  /** Number of ids the vocabulary defines (max id + 1, including added tokens). */
  readonly vocabSize: number;
  /** Ids of added tokens marked `special` (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, …). */
  readonly specialIds: ReadonlySet<number>;
  /** End-of-sequence ids: `eos_token` of the config, plus `generation_config.json`'s `eos_token_id` when present. */
  readonly eosIds: readonly number[];
  /** Added tokens by content. */
  readonly addedTokens: ReadonlyMap<string, AddedTokenInfo>;
  /** Special-token strings templates may reference (`bos_token`, `eos_token`, `pad_token`, `unk_token`). */
  readonly templateTokens: Readonly<Record<string, string>>;

  private readonly hf: HfTokenizer;
  private readonly parts: HfInternals;
  private readonly allRe: RegExp | null;
  private readonly addedRe: RegExp | null;
  /** Fast path for `Sequence[Split…, ByteLevel(no regex, no prefix space)]` pre-tokenizers (Qwen, GPT-2 style); null → the library's. */
  private readonly splitThenByteLevel: ((text: string) => string[]) | null;
  /** Plain-BPE ids for token strings that an added token shadows in the library's id map. */
  private readonly shadowed = new Map<string, number>();
  private readonly bound: TokenBound;
  /** Our sliced byte-level BPE, built on first use; null when this tokenizer is not of that kind. */
  private fast: SlicedBpe | null | undefined;
  private readonly fastConfig: ByteBpeConfig | null;
  /** The worker thread that encodes long texts (loaded from files: see loadTokenizer in load-tokenizer.ts); null → in-process, in slices. */
  private offload: TokenizerOffload | null = null;

  /** Builds a tokenizer from the parsed JSON files. */
  constructor(tokenizerJson: Record<string, any>, config: Record<string, any>, generationConfig?: Record<string, any>) {
    if (!tokenizerJson?.model || !Array.isArray(tokenizerJson.added_tokens)) throw new TokenizerError('tokenizer.json has no model or added_tokens');
    try {
      this.hf = new HfTokenizer(tokenizerJson, config);
    } catch (e) {
      throw new TokenizerError(`cannot build tokenizer: ${(e as Error).message}`);
    }
    this.parts = this.hf as unknown as HfInternals;
    const added = new Map<string, AddedTokenInfo>();
    for (const t of tokenizerJson.added_tokens as any[]) {
      added.set(t.content, { id: t.id, content: t.content, special: !!t.special, lstrip: !!t.lstrip, rstrip: !!t.rstrip });
      const plainId = tokenizerJson.model.vocab?.[t.content];
      if (typeof plainId === 'number' && plainId !== t.id) this.shadowed.set(t.content, plainId);
    }
    this.addedTokens = added;
    const list = [...added.values()];
    this.specialIds = new Set(list.filter((t) => t.special).map((t) => t.id));
    this.allRe = alternation(list);
    this.addedRe = alternation(list.filter((t) => !t.special));
    this.vocabSize = this.parts.model.vocab.length;
    this.splitThenByteLevel = splitThenByteLevel(tokenizerJson.pre_tokenizer, this.parts.pre_tokenizer);
    this.fastConfig = byteBpeConfig(tokenizerJson, this.parts.pre_tokenizer);
    this.bound = new TokenBound(this.parts.model.vocab, this.splitThenByteLevel !== null);

    const tokenString = (v: unknown): string | undefined =>
      typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as any).content === 'string' ? (v as any).content : undefined;
    const templateTokens: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const s = tokenString(config[key]);
      if (s !== undefined) templateTokens[key] = s;
    }
    this.templateTokens = templateTokens;
    const eos = new Set<number>();
    const eosId = templateTokens.eos_token !== undefined ? this.tokenToId(templateTokens.eos_token) : undefined;
    if (eosId !== undefined) eos.add(eosId);
    const gen = generationConfig?.eos_token_id;
    for (const id of Array.isArray(gen) ? gen : gen !== undefined ? [gen] : []) if (Number.isInteger(id)) eos.add(id);
    this.eosIds = [...eos];
  }

  /** Encodes text. Special tokens typed in the text stay plain text unless `allowSpecial` is set. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError('encode: text must be a string');
    return this.encodeSegments([{ text, trusted: opts.allowSpecial ?? false }], opts);
  }

  /**
   * Encodes the concatenation of segments as one text: BPE runs across segment boundaries exactly as
   * for the joined string, but special tokens are recognised only inside trusted segments.
   * Equals `encode(joined, {allowSpecial:true})` when untrusted segments contain no special-token text.
   */
  encodeSegments(segments: readonly TextSegment[], opts: SegmentsOptions = {}): number[] {
    const slicer = new Slicer();
    return runToEnd(this.encodeWork(segments, opts, slicer), slicer);
  }

  /**
   * {@link encodeSegments} without holding the event loop (same ids): long texts on the worker thread of a
   * tokenizer loaded from files, the rest (or all when there is no worker) in slices of a few ms.
   */
  async encodeSegmentsAsync(segments: readonly TextSegment[], opts: SegmentsOptions = {}): Promise<number[]> {
    const slicer = new Slicer();
    if (opts.maxTokens !== undefined) await runSliced(this.boundWork(segments, opts.maxTokens, slicer), slicer);
    const rest = { allowAdded: opts.allowAdded };
    let chars = 0;
    for (const s of segments) chars += s.text.length;
    const ids = this.offload && chars >= OFFLOAD_CHARS ? await this.offload.encode(segments, rest) : null;
    return ids ?? runSliced(this.encodeWork(segments, rest, slicer), slicer);
  }

  /** Encodes long texts on a worker thread that loads the tokenizer from `dir` (what loadTokenizer in load-tokenizer.ts was given). */
  offloadFrom(dir: string): this {
    this.offload = new TokenizerOffload(dir);
    return this;
  }

  /** Builds our BPE's merge table in slices (a few hundred ms; else the first encode builds it in one block). */
  async prepare(): Promise<this> {
    if (this.fast === undefined) {
      const slicer = new Slicer();
      await runSliced(this.buildFast(slicer), slicer);
    }
    return this;
  }

  /** Stops the worker thread, if one was started. */
  async close(): Promise<void> {
    await this.offload?.close();
  }

  /** Throws TokenBudgetError when the segments provably need more than `maxTokens` tokens (one linear pass, no BPE). */
  private *boundWork(segments: readonly TextSegment[], maxTokens: number, slicer: Slicer): SlicedWork<void> {
    let bound = 0;
    for (const seg of segments) if (bound <= maxTokens) bound += yield* this.bound.minTokensWork(seg.text, maxTokens - bound, slicer);
    if (bound > maxTokens) throw new TokenBudgetError(`the text needs at least ${bound} tokens, more than the ${maxTokens} that fit`, bound, maxTokens);
  }

  private *encodeWork(segments: readonly TextSegment[], opts: SegmentsOptions, slicer: Slicer): SlicedWork<number[]> {
    if (opts.maxTokens !== undefined) yield* this.boundWork(segments, opts.maxTokens, slicer);
    const allowAdded = opts.allowAdded ?? true;
    const out: number[] = [];
    let run = '';
    let section = 0;
    let stripNext = false;
    for (const seg of segments) {
      const re = seg.trusted ? this.allRe : allowAdded ? this.addedRe : null;
      let text = seg.text;
      if (stripNext && text.length > 0) {
        text = text.trimStart();
        stripNext = text.length === 0;
      }
      if (re === null) {
        run += text;
        continue;
      }
      re.lastIndex = 0;
      let last = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const tok = this.addedTokens.get(m[0])!;
        run += text.slice(last, m.index);
        if (tok.lstrip) run = run.trimEnd();
        yield* this.encodePlain(run, section++, out, slicer);
        run = '';
        out.push(tok.id);
        last = m.index + m[0].length;
        if (tok.rstrip) {
          while (last < text.length && /\s/.test(text[last]!)) last++;
          if (last === text.length) stripNext = true;
        }
      }
      run += text.slice(last);
    }
    yield* this.encodePlain(run, section, out, slicer);
    return out;
  }

  /** A lower bound on the tokens `text` encodes to (one linear pass, no BPE; see token-bound.ts). */
  minTokens(text: string, limit?: number): number {
    return this.bound.minTokens(text, limit);
  }

  /** Decodes ids to text. Throws TokenizerError for ids outside the vocabulary. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    const vocab = this.parts.model.vocab;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || vocab[id] === undefined) throw new TokenizerError(`decode: token id ${id} is not in the vocabulary`);
    }
    if (opts.skipSpecial) {
      ids = ids.filter((id) => !this.specialIds.has(id));
      if (ids.length === 0) return '';
    }
    return this.hf.decode(ids as number[], { clean_up_tokenization_spaces: false });
  }

  /** Id of a token string (vocabulary form, e.g. `Ġthe`, or an added token's content), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Token string of an id (vocabulary form), or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Contents of the special added tokens (what user text must never turn into). */
  specialTokenStrings(): string[] {
    return [...this.addedTokens.values()].filter((t) => t.special).map((t) => t.content);
  }

  /** Normalise → pre-tokenise → BPE a text free of added tokens; pushes ids to `out`. */
  private *encodePlain(text: string, section: number, out: number[], slicer: Slicer): SlicedWork<void> {
    if (text.length === 0) return;
    const fast = this.fast !== undefined ? this.fast : yield* this.buildFast(slicer);
    if (fast === null) {
      const { normalizer, pre_tokenizer } = this.parts;
      const normalized = normalizer ? (normalizer(text) as string) : text;
      if (normalized.length === 0) return;
      const pieces = this.splitThenByteLevel
        ? this.splitThenByteLevel(normalized)
        : pre_tokenizer
          ? pre_tokenizer(normalized, { section_index: section })
          : [normalized];
      this.libraryBpe(pieces, out);
      return;
    }
    yield* fast.encode(text, out, slicer);
  }

  /** The library's BPE of byte-level pieces; pushes ids to `out` (also sliced-bpe.ts's fallback). */
  libraryBpe(pieces: string[], out: number[]): void {
    for (const tok of this.parts.model(pieces)) {
      const id = this.idOf(tok);
      if (id === undefined) throw new TokenizerError(`encode: BPE produced token ${JSON.stringify(tok)} that has no id`);
      out.push(id);
    }
  }

  /** Id of a token string as BPE output maps to it (a token an added token shadows keeps its plain id). */
  idOf(token: string): number | undefined {
    return this.shadowed.get(token) ?? this.parts.model.tokens_to_ids.get(token);
  }

  private *buildFast(slicer: Slicer): SlicedWork<SlicedBpe | null> {
    const c = this.fastConfig;
    const merges = this.parts.model.merges;
    const fast = c && merges ? yield* SlicedBpe.build(c, merges, this, slicer) : null;
    return (this.fast ??= fast);
  }
}
