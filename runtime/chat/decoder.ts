/**
 * Per-token decoding of an assistant turn: ids → text (streaming detokenizer, special tokens
 * dropped) → stop strings (held back while they could still match, cut at a match, never shown)
 * → the tool-call parser (content / reasoning / tool-call events). Pure apart from the tokenizer.
 */
import { StreamingDetokenizer } from '../../engine/tokens/detokenizer.js';
import type { ToolDefinition } from '../../engine/tokens/messages.js';
import type { Tokenizer } from '../../engine/tokens/tokenizer.js';
import type { ToolCallFormatSpec } from '../../engine/tokens/tool-call-formats.js';
import { ToolCallParser, type ParsedToolCall, type ParserEvent } from '../../engine/tokens/tool-call-parser.js';
import type { XmlValueTyper } from '../../engine/tokens/xml-param-value.js';

/** Holds back text that may be the start of a stop string; reports the first full match. */
export class StopFilter {
  private held = '';
  private done = false;
  /** The stop string that matched (first in the text), once stopped. */
  matched: string | undefined;
  constructor(private readonly stops: readonly string[]) {}

  /** True once a stop string was seen (nothing after it is ever returned). */
  get stopped(): boolean {
    return this.done;
  }

  /** Adds text; returns what can be shown now. */
  push(text: string): string {
    if (this.done) return '';
    if (this.stops.length === 0) return text;
    const all = this.held + text;
    let cut = -1;
    for (const s of this.stops) {
      const i = all.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) {
        cut = i;
        this.matched = s;
      }
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return all.slice(0, cut);
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, all.length); n > keep; n--) {
        if (all.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  /** End of text: the held text was not a stop string after all. */
  flush(): string {
    const t = this.done ? '' : this.held;
    this.held = '';
    return t;
  }
}

export interface TurnDecoderOptions {
  stop?: readonly string[];
  tools?: readonly ToolDefinition[];
  /** The chat template's call body format (default Hermes JSON). */
  format?: ToolCallFormatSpec;
  /** The generation prompt left the turn inside a think block. */
  startInReasoning?: boolean;
  /** XML calls: parameter values typed as the turn's grammar reads them (`callValueTyper`). */
  xmlValues?: XmlValueTyper;
  idFactory?: (index: number) => string;
}

/** Everything a turn produced, folded. */
export interface DecodedTurn {
  /** Generated text after stop-string cutting (special tokens dropped). */
  text: string;
  content: string;
  reasoning: string;
  toolCalls: ParsedToolCall[];
  errors: { index: number; message: string }[];
  /** Calls that started but never completed (cut by max_tokens, or malformed): id, name and the argument text streamed so far. */
  unfinished: { index: number; id: string; name: string; argumentsText: string }[];
}

/** Decoder of one assistant turn. */
export class TurnDecoder {
  private readonly detok: StreamingDetokenizer;
  private readonly stopFilter: StopFilter;
  private readonly parser: ToolCallParser;
  private finished = false;
  readonly out: DecodedTurn = { text: '', content: '', reasoning: '', toolCalls: [], errors: [], unfinished: [] };
  /** Calls started and not yet ended, by index. */
  private open = new Map<number, { index: number; id: string; name: string; argumentsText: string }>();

  constructor(tokenizer: Tokenizer, opts: TurnDecoderOptions = {}) {
    this.detok = new StreamingDetokenizer(tokenizer, { skipSpecial: true });
    this.stopFilter = new StopFilter((opts.stop ?? []).filter((s) => s.length > 0));
    this.parser = new ToolCallParser({ tools: opts.tools, format: opts.format, startInReasoning: opts.startInReasoning, idFactory: opts.idFactory, xmlValues: opts.xmlValues });
  }

  /** True once a stop string matched: later tokens are ignored. */
  get stopped(): boolean {
    return this.stopFilter.stopped;
  }

  /** The stop string that ended the turn, if one did. */
  get stopString(): string | undefined {
    return this.stopFilter.matched;
  }

  /** Feeds one generated token id; returns the events it completes. */
  push(token: number): ParserEvent[] {
    if (this.finished || this.stopFilter.stopped) return [];
    return this.text(this.stopFilter.push(this.detok.push(token)));
  }

  /** Ends the turn: flushes held text, reports an unterminated tool call. Idempotent. */
  finish(): ParserEvent[] {
    if (this.finished) return [];
    const tail = this.stopFilter.stopped ? '' : this.stopFilter.push(this.detok.flush()) + this.stopFilter.flush();
    const events = this.text(tail);
    this.finished = true;
    return [...events, ...this.fold(this.parser.finish())];
  }

  private text(t: string): ParserEvent[] {
    if (t === '') return [];
    this.out.text += t;
    return this.fold(this.parser.push(t));
  }

  private fold(events: ParserEvent[]): ParserEvent[] {
    for (const e of events) {
      if (e.type === 'content') this.out.content += e.text;
      else if (e.type === 'reasoning') this.out.reasoning += e.text;
      else if (e.type === 'tool_call_start') this.open.set(e.index, { index: e.index, id: e.id, name: e.name, argumentsText: '' });
      else if (e.type === 'tool_call_args') {
        const c = this.open.get(e.index);
        if (c) c.argumentsText += e.text;
      } else if (e.type === 'tool_call_end') {
        this.open.delete(e.index);
        this.out.toolCalls.push(e.call);
      } else if (e.type === 'tool_call_error') {
        this.out.errors.push({ index: e.index, message: e.message });
        const c = this.open.get(e.index);
        if (c) this.out.unfinished.push(c);
        this.open.delete(e.index);
      }
    }
    return events;
  }
}
