/**
 * The sliced encoder of byte-level BPE tokenizers: NFC, the split regexes, then our BPE
 * (byte-bpe.ts) piece by piece, yielding when the slice is used up (time-slice.ts). Short pieces
 * keep their ids in a cache, as the library's BPE does. The same ids as the library's pipeline.
 */
import { ByteBpe, SHORT, type BpeSource } from './byte-bpe.js';
import { byteLevel, nfcSliced, splitSliced, type ByteBpeConfig } from './pre-tokens.js';
import type { Slicer, SlicedWork } from './time-slice.js';

/** Pieces up to this many chars keep their ids in the piece cache. */
const CACHED_PIECE = 64;
/** Entries of the piece cache (cleared when full). */
const PIECE_CACHE_SIZE = 1 << 16;

/** Chars per UTF-8 write of a long piece. */
const UTF8_CHUNK = 1 << 16;

/** Writes `text` as UTF-8 into `out` chunk by chunk (never splitting a surrogate pair); returns the byte length. */
function* utf8Sliced(text: string, out: Buffer, slicer: Slicer): SlicedWork<number> {
  let n = 0;
  for (let i = 0; i < text.length; ) {
    let j = Math.min(i + UTF8_CHUNK, text.length);
    if (j < text.length && (text.charCodeAt(j) & 0xfc00) === 0xdc00 && (text.charCodeAt(j - 1) & 0xfc00) === 0xd800) j++;
    n += out.write(text.slice(i, j), n, 'utf8');
    i = j;
    if (slicer.due(UTF8_CHUNK)) yield;
  }
  return n;
}

/** What the encoder needs from the tokenizer: ids of token strings, and the library's BPE as the fallback. */
export interface SlicedBpeHost {
  idOf(token: string): number | undefined;
  /** The library's BPE of byte-level pieces, pushing ids to `out`. */
  libraryBpe(pieces: string[], out: number[]): void;
}

export class SlicedBpe {
  private readonly cache = new Map<string, number[]>();

  private constructor(private readonly config: ByteBpeConfig, private readonly bpe: ByteBpe, private readonly host: SlicedBpeHost) {}

  /** Builds the encoder (the merge table: a few hundred ms, in slices). */
  static *build(config: ByteBpeConfig, merges: BpeSource['merges'], host: SlicedBpeHost, slicer: Slicer): SlicedWork<SlicedBpe> {
    const bpe = yield* ByteBpe.build({ merges, idOf: (s) => host.idOf(s) }, slicer);
    return new SlicedBpe(config, bpe, host);
  }

  /** Normalise → pre-tokenise → BPE a text free of added tokens; pushes ids to `out`. */
  *encode(text: string, out: number[], slicer: Slicer): SlicedWork<void> {
    const normalized = this.config.nfc ? yield* nfcSliced(text, slicer) : text;
    const pieces = yield* splitSliced([normalized], this.config.regexes, slicer);
    let longest = 0;
    for (const p of pieces) if (p.length > longest) longest = p.length;
    const bytes = Buffer.allocUnsafe(3 * longest); // UTF-8: ≤ 3 bytes per UTF-16 unit (lone surrogates → U+FFFD)
    for (const piece of pieces) {
      if (slicer.due(piece.length)) yield;
      const cacheable = piece.length <= CACHED_PIECE;
      const cached = cacheable ? this.cache.get(piece) : undefined;
      if (cached !== undefined) {
        for (const id of cached) out.push(id);
        continue;
      }
      const n = piece.length <= UTF8_CHUNK ? bytes.write(piece, 0, 'utf8') : yield* utf8Sliced(piece, bytes, slicer);
      const start = out.length;
      const whole = this.config.ignoreMerges ? this.host.idOf(byteLevel(piece)) : undefined;
      if (whole !== undefined) out.push(whole);
      else if (!(n <= SHORT ? this.bpe.encodeShort(bytes, 0, n, out) : yield* this.bpe.encode(bytes, 0, n, out, slicer))) {
        this.host.libraryBpe([byteLevel(piece)], out); // a token outside the vocabulary: the library drops or replaces it
      }
      if (cacheable) {
        if (this.cache.size >= PIECE_CACHE_SIZE) this.cache.clear();
        this.cache.set(piece, out.slice(start));
      }
    }
  }
}
