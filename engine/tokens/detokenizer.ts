/**
 * Streaming detokenizer: turns generated ids, pushed one at a time, into text deltas.
 *
 * Invariants: a delta never ends inside a UTF-8 character (text whose decoding still ends in
 * U+FFFD is held back until more ids arrive or `flush()`), and the concatenation of all deltas
 * plus `flush()` equals `tokenizer.decode(allIds)`.
 */
import type { DecodeOptions, Tokenizer } from './tokenizer.js';

const REPLACEMENT = '\uFFFD';
/** Held ids after which a trailing U+FFFD is taken as a real invalid sequence, not an incomplete one (UTF-8 needs ≤ 4 bytes). */
const MAX_HELD = 4;

export class StreamingDetokenizer {
  /** Pending ids; ids[0, readOffset) are context already emitted (at most one id). */
  private ids: number[] = [];
  private readOffset = 0;

  constructor(private readonly tokenizer: Tokenizer, private readonly opts: DecodeOptions = {}) {}

  /** Adds one id; returns the text that became complete (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.tokenizer.decode(this.ids.slice(0, this.readOffset), this.opts);
    const text = this.tokenizer.decode(this.ids, this.opts);
    const held = this.ids.length - this.readOffset;
    if (text.length <= prefixText.length || (text.endsWith(REPLACEMENT) && held < MAX_HELD)) return '';
    return this.emit(text, prefixText);
  }

  /** Emits whatever is held back (an incomplete character decodes as U+FFFD) and resets the stream. */
  flush(): string {
    const prefixText = this.tokenizer.decode(this.ids.slice(0, this.readOffset), this.opts);
    const text = this.tokenizer.decode(this.ids, this.opts);
    this.ids = [];
    this.readOffset = 0;
    return text.slice(prefixText.length);
  }

  private emit(text: string, prefixText: string): string {
    // Keep the last id as context (decoders such as Metaspace treat a leading token specially),
    // unless it is only the tail of a multi-byte character and would decode alone as U+FFFD.
    const last = this.ids[this.ids.length - 1]!;
    this.ids = this.tokenizer.decode([last], this.opts).includes(REPLACEMENT) ? [] : [last];
    this.readOffset = this.ids.length;
    return text.slice(prefixText.length);
  }
}
