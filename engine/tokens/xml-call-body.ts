/**
 * Incremental parser of one XML tool-call body (Qwen3-Coder, Qwen3.5 / Qwen3.6), the text between
 * `<tool_call>` and `</tool_call>`:
 *   `\n<function=NAME>\n` ( `<parameter=KEY>\nVALUE\n</parameter>\n` )* `</function>\n`
 * A value loses one leading and one trailing newline. `</parameter>` ends a value only when what follows
 * (after whitespace) is `<parameter=`, `</function>` or the end of the body; otherwise it is value text,
 * as in Qwen's own parser. Values are typed by the context's `xmlValues` (the grammar's own reading, so a
 * constrained call reads as it was constrained), else by the tool's schema (xml-param-value.ts).
 *
 * Streaming: the name is announced at `<function=NAME>`; the arguments JSON is emitted as it becomes
 * certain: `{"key": ` when a value starts, a plain string value character by character (held back only
 * while it could still be the closing newline or tag), a typed value whole when it ends, `}` at the end.
 * The fragments concatenate to `argumentsJson`, whatever the chunking. Malformed bodies become one
 * `tool_call_error` at close (with the offset of the fault); the parser never throws.
 */
import type { CallBodyParser, CallContext, ParserEvent } from './tool-call-formats.js';
import { convertXmlParamValue, streamsRaw, xmlParamType, type XmlValueTyping } from './xml-param-value.js';

const FUNCTION_OPEN = '<function=';
const FUNCTION_CLOSE = '</function>';
const PARAM_OPEN = '<parameter=';
const PARAM_CLOSE = '</parameter>';
/** Characters a function name cannot contain (a stray template or pseudo-XML is not a call). */
const BAD_NAME = /[\s{}<>"']/;

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function partialSuffix(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) if (s.endsWith(tag.slice(0, n))) return n;
  return 0;
}

const isPrefixOf = (s: string, ...tags: string[]) => tags.some((t) => t.startsWith(s));
const escapeJson = (s: string) => JSON.stringify(s).slice(1, -1);

interface OpenParam {
  key: string;
  /** Offset of `<parameter=` (for errors). */
  tagAt: number;
  typing: XmlValueTyping;
  /** Offset of the value's first character, once known (-1: waiting to see if a newline follows the tag). */
  start: number;
  /** Characters of the value already emitted (raw-streamed values). */
  emitted: number;
  /** Where to look for the next `</parameter>`. */
  searchFrom: number;
}

/** Parser of one XML call body. */
export class XmlBodyParser implements CallBodyParser {
  private body = '';
  private pos = 0;
  private state: 'head' | 'params' | 'value' | 'end' = 'head';
  private name: string | undefined;
  private param: OpenParam | undefined;
  private readonly args: Record<string, unknown> = {};
  private argsJson = '';
  private failure: { message: string; at: number } | undefined;

  constructor(private readonly ctx: CallContext) {}

  feed(chunk: string): ParserEvent[] {
    this.body += chunk;
    return this.advance(false);
  }

  close(): ParserEvent[] {
    const events = this.advance(true);
    if (!this.failure && this.state !== 'end') this.fail(this.state === 'params' ? 'tool call has no </function>' : 'tool call has no <function=name> tag', this.pos);
    const { index, id, start } = this.ctx;
    if (this.failure) return [...events, { type: 'tool_call_error', index, message: this.failure.message, position: start + this.failure.at }];
    const closing = this.argsJson === '' ? '{}' : '}';
    this.argsJson += closing;
    events.push({ type: 'tool_call_args', index, text: closing });
    events.push({ type: 'tool_call_end', index, call: { id, name: this.name!, arguments: this.args, argumentsJson: this.argsJson } });
    return events;
  }

  private fail(message: string, at: number): void {
    this.failure ??= { message, at };
  }

  private emitArgs(text: string, out: ParserEvent[]): void {
    if (text === '') return;
    this.argsJson += text;
    out.push({ type: 'tool_call_args', index: this.ctx.index, text });
  }

  /** Parses as far as the body allows; `final`: the body is complete. */
  private advance(final: boolean): ParserEvent[] {
    const out: ParserEvent[] = [];
    while (!this.failure) {
      const progressed = this.state === 'value' ? this.value(final, out) : this.tag(final, out);
      if (!progressed) break;
    }
    return out;
  }

  /** Head, between parameters, or after `</function>`. Returns whether it moved on. */
  private tag(final: boolean, out: ParserEvent[]): boolean {
    const rest = this.body.slice(this.pos);
    const at = this.pos + (rest.length - rest.trimStart().length);
    const text = rest.trimStart();
    if (this.state === 'end') {
      if (text !== '') this.fail('unexpected text after </function> in tool call', at);
      return false;
    }
    const open = this.state === 'head' ? FUNCTION_OPEN : PARAM_OPEN;
    if (this.state === 'params' && text.startsWith(FUNCTION_CLOSE)) {
      this.pos = at + FUNCTION_CLOSE.length;
      this.state = 'end';
      return true;
    }
    if (!text.startsWith(open)) {
      // nothing yet (close() reports what is missing), or the start of an expected tag
      if (text === '' || (!final && (this.state === 'head' ? isPrefixOf(text, open) : isPrefixOf(text, open, FUNCTION_CLOSE)))) return false;
      this.fail(this.state === 'head' ? 'tool call has no <function=name> tag' : 'expected <parameter=…> or </function> in tool call', at);
      return false;
    }
    const close = text.indexOf('>', open.length);
    const name = (close < 0 ? text.slice(open.length) : text.slice(open.length, close)).trim();
    if (close < 0) {
      if (final || name.includes('\n') || name.includes('<')) this.fail(`unterminated ${open}…> tag in tool call`, at);
      return false;
    }
    if (name === '' || (this.state === 'head' && BAD_NAME.test(name)) || name.includes('\n')) {
      this.fail(`invalid ${this.state === 'head' ? 'function' : 'parameter'} name ${JSON.stringify(name)} in tool call`, at);
      return false;
    }
    this.pos = at + close + 1;
    if (this.state === 'head') {
      this.name = name;
      this.state = 'params';
      out.push({ type: 'tool_call_start', index: this.ctx.index, id: this.ctx.id, name });
    } else {
      this.param = { key: name, tagAt: at, typing: this.typing(name), start: -1, emitted: 0, searchFrom: 0 };
      this.state = 'value';
    }
    return true;
  }

  /** Inside a parameter value. Returns whether it moved on (the value ended). */
  private value(final: boolean, out: ParserEvent[]): boolean {
    const p = this.param!;
    const raw = p.typing.raw;
    if (p.start < 0) {
      if (this.pos >= this.body.length && !final) return false;
      p.start = p.searchFrom = this.body[this.pos] === '\n' ? this.pos + 1 : this.pos;
      this.emitArgs(`${this.argsJson === '' ? '{' : ', '}${JSON.stringify(p.key)}: ${raw ? '"' : ''}`, out);
    }
    for (;;) {
      const idx = this.body.indexOf(PARAM_CLOSE, p.searchFrom);
      if (idx < 0) {
        if (final) this.fail(`unterminated <parameter> in tool call (parameter ${JSON.stringify(p.key)})`, p.tagAt);
        else if (raw) this.stream(p, this.body.length, out);
        return false;
      }
      const next = this.body.slice(idx + PARAM_CLOSE.length).trimStart();
      const structural = next.startsWith(PARAM_OPEN) || next.startsWith(FUNCTION_CLOSE) || (final && next === '');
      if (!structural && (final || !isPrefixOf(next, PARAM_OPEN, FUNCTION_CLOSE))) {
        p.searchFrom = idx + 1; // literal text inside the value
        continue;
      }
      const end = idx > p.start && this.body[idx - 1] === '\n' ? idx - 1 : idx;
      if (!structural) {
        if (raw) this.stream(p, end, out);
        return false;
      }
      const text = this.body.slice(p.start, end);
      const value = p.typing.read(text);
      this.args[p.key] = value;
      this.emitArgs(raw ? `${escapeJson(text.slice(p.emitted))}"` : JSON.stringify(value), out);
      this.pos = idx + PARAM_CLOSE.length;
      this.param = undefined;
      this.state = 'params';
      return true;
    }
  }

  /** Emits the raw value up to `limit`, holding back what could still be the closing newline or a partial tag. */
  private stream(p: OpenParam, limit: number, out: ParserEvent[]): void {
    let text = this.body.slice(p.start, limit);
    if (limit === this.body.length) text = text.slice(0, text.length - partialSuffix(text, PARAM_CLOSE));
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) text = text.slice(0, -1); // never split a surrogate pair
    if (text.length > p.emitted) {
      this.emitArgs(escapeJson(text.slice(p.emitted)), out);
      p.emitted = text.length;
    }
  }

  /** The injected typing of parameter `key`, else the one its schema gives. */
  private typing(key: string): XmlValueTyping {
    const injected = this.ctx.xmlValues?.(this.name!, key);
    if (injected) return injected;
    const type = xmlParamType(this.paramSchema(key));
    return { raw: streamsRaw(type), read: (text) => convertXmlParamValue(text, type) };
  }

  private paramSchema(key: string): unknown {
    const tool = this.ctx.tools?.find((t) => t.function?.name === this.name);
    const props = (tool?.function.parameters as { properties?: Record<string, unknown> } | undefined)?.properties;
    return props && typeof props === 'object' ? props[key] : undefined;
  }
}
