/**
 * Incremental parser of one MiniMax-M2 tool-call block, the text between `<minimax:tool_call>` and
 * `</minimax:tool_call>`, which holds one or more calls:
 *   ( `<invoke name="NAME">` ( `<parameter name="KEY">` VALUE `</parameter>` )* `</invoke>` )+
 * with any whitespace between tags (the template writes `\n` after each tag). VALUE is raw text for string
 * parameters, JSON for others (the template's `tojson`). Reading, typed by the tool's schema: a parameter whose schema
 * admits only strings keeps the raw text; any other (unknown, untyped, mixed) reads as JSON when the text parses,
 * else stays raw text — the rule the constrained form is generated under
 * (engine/grammar/tool-call/xml-values.ts), so constrained calls read back as generated. `</parameter>` ends a value
 * only when what follows (after whitespace) is `<parameter name=` or `</invoke>`; otherwise it is value text.
 *
 * Streaming: `tool_call_start` at each `<invoke name="NAME">`, each parameter's JSON (`{"key": value` / `, "key": value`)
 * when its value ends, `}` and `tool_call_end` at `</invoke>`. Calls take consecutive indices from the block's
 * first (`ctx.index`); ids from `ctx.idFor`. A malformed call becomes one `tool_call_error` (at close for the last
 * call); the parser never throws.
 */
import type { CallBodyParser, CallContext, ParserEvent } from './tool-call-formats.js';

const INVOKE = /^<invoke name="([^"<>\n]*)">/;
const PARAM = /^<parameter name="([^"<>\n]*)">/;
const INVOKE_CLOSE = '</invoke>';
const PARAM_CLOSE = '</parameter>';
const PARAM_PREFIX = '<parameter name="';

const isPrefixOf = (s: string, ...tags: string[]) => tags.some((t) => t.startsWith(s));

/** Parser of one `<minimax:tool_call>` block. */
export class MinimaxBlockParser implements CallBodyParser {
  private body = '';
  private pos = 0;
  private state: 'between' | 'params' | 'value' = 'between';
  private calls = 0;
  private name = '';
  private args: Record<string, unknown> = {};
  private argsJson = '';
  private key = '';
  private valueStart = 0;
  private searchFrom = 0;
  private failed = false;

  constructor(private readonly ctx: CallContext) {}

  feed(chunk: string): ParserEvent[] {
    this.body += chunk;
    return this.advance(false);
  }

  close(): ParserEvent[] {
    const out = this.advance(true);
    if (!this.failed) {
      if (this.state !== 'between') this.fail(out, 'tool call has no </invoke>', this.pos);
      else if (this.calls === 0) this.fail(out, 'tool call block has no <invoke name="…"> tag', this.pos);
    }
    return out;
  }

  private get index(): number {
    return this.ctx.index + this.calls;
  }

  private fail(out: ParserEvent[], message: string, at: number): void {
    this.failed = true;
    out.push({ type: 'tool_call_error', index: this.index, message, position: this.ctx.start + at });
  }

  private advance(final: boolean): ParserEvent[] {
    const out: ParserEvent[] = [];
    while (!this.failed && (this.state === 'value' ? this.value(final, out) : this.tag(final, out))) {}
    return out;
  }

  /** Between calls or between parameters. Returns whether it moved on. */
  private tag(final: boolean, out: ParserEvent[]): boolean {
    const rest = this.body.slice(this.pos);
    const text = rest.trimStart();
    const at = this.pos + rest.length - text.length;
    if (text === '') return false;
    if (this.state === 'params' && text.startsWith(INVOKE_CLOSE)) {
      const tail = this.argsJson === '' ? '{}' : '}';
      this.argsJson += tail;
      out.push({ type: 'tool_call_args', index: this.index, text: tail });
      out.push({ type: 'tool_call_end', index: this.index, call: { id: this.id(), name: this.name, arguments: this.args, argumentsJson: this.argsJson } });
      this.calls++;
      this.pos = at + INVOKE_CLOSE.length;
      this.state = 'between';
      return true;
    }
    const m = (this.state === 'between' ? INVOKE : PARAM).exec(text);
    if (!m) {
      const expected = this.state === 'between' ? ['<invoke name="'] : [PARAM_PREFIX, INVOKE_CLOSE];
      const partial = text.length < 200 && !text.includes('\n') && (isPrefixOf(text, ...expected) || expected.some((e) => text.startsWith(e)));
      if (!final && partial) return false;
      this.fail(out, this.state === 'between' ? 'expected <invoke name="…"> in tool call block' : 'expected <parameter name="…"> or </invoke> in tool call', at);
      return false;
    }
    const name = m[1]!.trim();
    if (name === '') {
      this.fail(out, `empty ${this.state === 'between' ? 'function' : 'parameter'} name in tool call`, at);
      return false;
    }
    this.pos = at + m[0].length;
    if (this.state === 'between') {
      this.name = name;
      this.args = {};
      this.argsJson = '';
      this.state = 'params';
      out.push({ type: 'tool_call_start', index: this.index, id: this.id(), name });
    } else {
      this.key = name;
      this.valueStart = this.searchFrom = this.pos;
      this.state = 'value';
    }
    return true;
  }

  /** Inside a value. Returns whether it ended. */
  private value(final: boolean, out: ParserEvent[]): boolean {
    for (;;) {
      const idx = this.body.indexOf(PARAM_CLOSE, this.searchFrom);
      if (idx < 0) {
        if (final) this.fail(out, `unterminated <parameter> in tool call (parameter ${JSON.stringify(this.key)})`, this.valueStart);
        return false;
      }
      const next = this.body.slice(idx + PARAM_CLOSE.length).trimStart();
      const structural = next.startsWith(PARAM_PREFIX) || next.startsWith(INVOKE_CLOSE);
      if (!structural) {
        if (!final && isPrefixOf(next, PARAM_PREFIX, INVOKE_CLOSE)) return false;
        this.searchFrom = idx + 1; // literal text inside the value
        continue;
      }
      const v = readValue(this.body.slice(this.valueStart, idx), this.paramSchema(this.key));
      const piece = `${this.argsJson === '' ? '{' : ', '}${JSON.stringify(this.key)}: ${JSON.stringify(v)}`;
      this.args[this.key] = v;
      this.argsJson += piece;
      out.push({ type: 'tool_call_args', index: this.index, text: piece });
      this.pos = idx + PARAM_CLOSE.length;
      this.state = 'params';
      return true;
    }
  }

  private id(): string {
    return this.calls === 0 ? this.ctx.id : (this.ctx.idFor?.(this.index) ?? `${this.ctx.id}_${this.calls}`);
  }

  private paramSchema(key: string): unknown {
    const tool = this.ctx.tools?.find((t) => t.function?.name === this.name);
    const props = (tool?.function.parameters as { properties?: Record<string, unknown> } | undefined)?.properties;
    return props && typeof props === 'object' ? props[key] : undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** True when every value `schema` admits is a string (type string, string enum / const, unions of those). */
export function stringOnly(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  if (Array.isArray(schema.enum)) return schema.enum.length > 0 && schema.enum.every((v) => typeof v === 'string');
  if ('const' in schema) return typeof schema.const === 'string';
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union) && schema.type === undefined) return union.length > 0 && union.every(stringOnly);
  const t = schema.type;
  return t === 'string' || (Array.isArray(t) && t.length > 0 && t.every((x) => x === 'string'));
}

/** A parameter's value read by its schema (see the module comment). */
function readValue(raw: string, schema: unknown): unknown {
  if (stringOnly(schema)) return raw;
  const text = raw.trim();
  try {
    return JSON.parse(text);
  } catch {
    return raw;
  }
}
