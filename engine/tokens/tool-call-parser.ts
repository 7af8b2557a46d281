/**
 * Streaming parser of generated assistant text: separates reasoning (`<think>…</think>`), content,
 * and tool calls between the format's own call tags (`format`, a registered tool-call format: e.g. Hermes JSON in
 * `<tool_call>…</tool_call>`), whose bodies the format's body parser reads.
 * The first closing tag ends a call block (a parameter value cannot contain that text).
 *
 * Feed text deltas of any size; the events are the same (after merging adjacent text) whatever the
 * chunking. Whitespace between content and a tool call, at the start of content and at the end of a
 * block is dropped, as Qwen templates render it. Malformed calls become `tool_call_error` events;
 * the parser never throws on model output.
 */
import { randomBytes } from 'node:crypto';
import { ParserStateError } from './errors.js';
import type { ToolDefinition } from './messages.js';
import type { XmlValueTyper } from './xml-param-value.js';
import { toolCallFormat, type CallBodyParser, type ParsedToolCall, type ParserEvent, type ToolCallFormat, type ToolCallFormatSpec } from './tool-call-formats.js';

export type { ParsedToolCall, ParserEvent, ToolCallFormat } from './tool-call-formats.js';

export interface ToolCallParserOptions {
  /** Call format, by name or spec (default Hermes JSON); e.g. `toolCallFormatOf(template.source)` or `template.toolCallFormat`. */
  format?: ToolCallFormat | ToolCallFormatSpec;
  /** The generation prompt already opened a think block (QwQ; Qwen3 thinking prompts that end in `<think>\n`). */
  startInReasoning?: boolean;
  /** Call ids; default `call_` + 24 random hex digits. */
  idFactory?: (index: number) => string;
  /** Tool definitions; XML parameter values are typed by their JSON Schema. */
  tools?: readonly ToolDefinition[];
  /**
   * XML parameter values typed as the grammar that constrained the call reads them (engine/grammar's
   * `xmlValueTyper(tools)`, passed in by the runtime); default: by the tools' JSON Schemas.
   */
  xmlValues?: XmlValueTyper;
}

/** Length of the longest suffix of `s` that is a proper prefix of one of `tags`. */
function partialTagLength(s: string, tags: readonly string[]): number {
  let best = 0;
  for (const tag of tags) {
    for (let n = Math.min(tag.length - 1, s.length); n > best; n--) {
      if (s.endsWith(tag.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/** Emits text with leading whitespace stripped at block starts and trailing whitespace held until more text follows. */
class TextChannel {
  private pending = '';
  private atStart = true;

  constructor(private readonly type: 'content' | 'reasoning') {}

  write(text: string, out: ParserEvent[]): void {
    if (this.atStart) {
      text = text.trimStart();
      if (text === '') return;
      this.atStart = false;
    }
    const all = this.pending + text;
    const body = all.trimEnd();
    this.pending = all.slice(body.length);
    if (body !== '') out.push({ type: this.type, text: body });
  }

  /** Ends a block: held whitespace is dropped, the next text is a block start. */
  endBlock(): void {
    this.pending = '';
    this.atStart = true;
  }
}

/** Incremental parser; one instance per generated assistant turn. */
export class ToolCallParser {
  private buf = '';
  /** Offset of buf[0] in the whole generated text. */
  private offset = 0;
  private mode: 'content' | 'reasoning' | 'call';
  private call: CallBodyParser | undefined;
  private callIndex = 0;
  private readonly content = new TextChannel('content');
  private readonly reasoning = new TextChannel('reasoning');
  private readonly calls: ParsedToolCall[] = [];
  private finished = false;
  private readonly format: ToolCallFormatSpec;

  constructor(private readonly opts: ToolCallParserOptions = {}) {
    this.mode = opts.startInReasoning ? 'reasoning' : 'content';
    this.format = toolCallFormat(opts.format ?? 'hermes');
  }

  /** Calls completed so far. */
  get toolCalls(): readonly ParsedToolCall[] {
    return this.calls;
  }

  /** Feeds a text delta; returns the events it completes. */
  push(delta: string): ParserEvent[] {
    if (this.finished) throw new ParserStateError('ToolCallParser: push after finish');
    this.buf += delta;
    return this.drain(false);
  }

  /** Ends the text; flushes held text and reports an unterminated tool call. */
  finish(): ParserEvent[] {
    if (this.finished) return [];
    const events = this.drain(true);
    this.finished = true;
    return events;
  }

  private drain(final: boolean): ParserEvent[] {
    const out: ParserEvent[] = [];
    for (;;) {
      const close = this.mode === 'content' ? null : this.mode === 'reasoning' ? this.format.thinkClose : this.format.callClose;
      const tags = close === null ? [this.format.thinkOpen, this.format.callOpen] : [close];
      let at = -1;
      let tag = '';
      for (const t of tags) {
        const i = this.buf.indexOf(t);
        if (i >= 0 && (at < 0 || i < at)) [at, tag] = [i, t];
      }
      if (at < 0) {
        const keep = final ? 0 : partialTagLength(this.buf, tags);
        this.write(this.buf.slice(0, this.buf.length - keep), out);
        this.consume(this.buf.length - keep);
        if (final) this.end(out);
        return out;
      }
      this.write(this.buf.slice(0, at), out);
      this.consume(at + tag.length);
      this.switchOn(tag, out);
    }
  }

  /** Routes text of the current mode. */
  private write(text: string, out: ParserEvent[]): void {
    if (text === '') return;
    if (this.mode === 'content') this.content.write(text, out);
    else if (this.mode === 'reasoning') this.reasoning.write(text, out);
    else out.push(...this.track(this.call!.feed(text)));
  }

  private consume(n: number): void {
    this.buf = this.buf.slice(n);
    this.offset += n;
  }

  private switchOn(tag: string, out: ParserEvent[]): void {
    if (tag === this.format.thinkOpen) {
      this.content.endBlock();
      this.mode = 'reasoning';
    } else if (tag === this.format.thinkClose) {
      this.reasoning.endBlock();
      this.content.endBlock();
      this.mode = 'content';
    } else if (tag === this.format.callOpen && this.mode === 'content') {
      this.content.endBlock();
      const index = this.callIndex++;
      const idFor = (i: number) => this.opts.idFactory?.(i) ?? `call_${randomBytes(12).toString('hex')}`;
      this.call = this.format.createBodyParser({ index, id: idFor(index), start: this.offset, tools: this.opts.tools, idFor, xmlValues: this.opts.xmlValues });
      this.mode = 'call';
    } else {
      this.closeCall(out);
      this.mode = 'content';
    }
  }

  private closeCall(out: ParserEvent[]): void {
    for (const e of this.track(this.call!.close())) {
      if (e.type === 'tool_call_end') this.calls.push(e.call);
      out.push(e);
    }
    this.call = undefined;
  }

  /** Events of the open block; a multi-call block (MiniMax) moves the next block's first index past its calls. */
  private track(events: ParserEvent[]): ParserEvent[] {
    for (const e of events) if (e.type !== 'content' && e.type !== 'reasoning') this.callIndex = Math.max(this.callIndex, e.index + 1);
    return events;
  }

  private end(out: ParserEvent[]): void {
    if (this.mode === 'call') {
      const index = this.callIndex - 1;
      out.push({ type: 'tool_call_error', index, message: `unterminated tool call (no ${this.format.callClose})`, position: this.offset });
      this.call = undefined;
    }
    this.content.endBlock();
    this.reasoning.endBlock();
  }
}

/** Result of parsing a whole assistant text. */
export interface ParsedAssistantText {
  content: string;
  reasoning: string;
  toolCalls: ParsedToolCall[];
  errors: { index: number; message: string; position: number }[];
}

/** Parses a complete assistant text (same result as streaming it). */
export function parseAssistantText(text: string, opts: ToolCallParserOptions = {}): ParsedAssistantText {
  const p = new ToolCallParser(opts);
  return collectEvents([...p.push(text), ...p.finish()]);
}

/** Folds parser events into content, reasoning, completed calls and errors. */
export function collectEvents(events: readonly ParserEvent[]): ParsedAssistantText {
  const r: ParsedAssistantText = { content: '', reasoning: '', toolCalls: [], errors: [] };
  for (const e of events) {
    if (e.type === 'content') r.content += e.text;
    else if (e.type === 'reasoning') r.reasoning += e.text;
    else if (e.type === 'tool_call_end') r.toolCalls.push(e.call);
    else if (e.type === 'tool_call_error') r.errors.push({ index: e.index, message: e.message, position: e.position });
  }
  return r;
}
