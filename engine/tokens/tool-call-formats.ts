/**
 * Incremental parsers of one tool-call body (the text between `<tool_call>` and `</tool_call>`),
 * for Qwen3/Hermes JSON (`{"name": …, "arguments": {…}}`) and Qwen3-Coder XML
 * (`<function=name>\n<parameter=p>\nvalue\n</parameter>\n</function>`).
 * They never throw on bad model output: malformed bodies become `tool_call_error` events.
 */
import type { ToolDefinition } from './messages.js';

/** A completed tool call. `argumentsJson` is the JSON text of the arguments (what the OpenAI API's `function.arguments` carries). */
export interface ParsedToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  argumentsJson: string;
}

/** Events of the streaming parser. `position` is a character offset in the whole generated text. */
export type ParserEvent =
  | { type: 'content'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_args'; index: number; text: string }
  | { type: 'tool_call_end'; index: number; call: ParsedToolCall }
  | { type: 'tool_call_error'; index: number; message: string; position: number };

/** Parser of one call body, fed in chunks. */
export interface CallBodyParser {
  feed(chunk: string): ParserEvent[];
  close(): ParserEvent[];
}

export interface CallContext {
  index: number;
  id: string;
  /** Offset of the body's first character in the whole generated text. */
  start: number;
  tools?: readonly ToolDefinition[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Offset of a JSON.parse error inside its input (V8 messages say "at position N"; end-of-input errors have none). */
function jsonErrorOffset(e: unknown, input: string): number {
  const m = /position (\d+)/.exec(String((e as Error)?.message));
  return m ? Number(m[1]) : input.length;
}

const HERMES_HEAD = /^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*/;

/** Qwen3 / Hermes JSON body. Streams the name as soon as it is complete and the raw arguments text as it arrives. */
export class HermesBodyParser implements CallBodyParser {
  private body = '';
  private started = false;
  private argsFrom = -1; // offset in body where the arguments value may start
  private scanned = 0; // body offset up to which arguments were scanned
  private args = '';
  private kind: 'none' | 'container' | 'string' | 'literal' | 'done' = 'none';
  private depth = 0;
  private inString = false;
  private escape = false;

  constructor(private readonly ctx: CallContext) {}

  feed(chunk: string): ParserEvent[] {
    this.body += chunk;
    const events: ParserEvent[] = [];
    if (!this.started) {
      const m = HERMES_HEAD.exec(this.body);
      if (!m) return events;
      let name: string;
      try {
        name = JSON.parse(`"${m[1]}"`);
      } catch {
        return events; // left for close() to report
      }
      this.started = true;
      this.argsFrom = this.scanned = m[0].length;
      events.push({ type: 'tool_call_start', index: this.ctx.index, id: this.ctx.id, name });
    }
    const text = this.scanArgs();
    if (text) events.push({ type: 'tool_call_args', index: this.ctx.index, text });
    return events;
  }

  /** Advances the arguments-value scanner over new body text; returns the value's new characters. */
  private scanArgs(): string {
    let out = '';
    for (; this.scanned < this.body.length && this.kind !== 'done'; this.scanned++) {
      const c = this.body[this.scanned]!;
      if (this.kind === 'none') {
        if (/\s/.test(c)) continue;
        this.kind = c === '{' || c === '[' ? 'container' : c === '"' ? 'string' : 'literal';
        if (this.kind === 'container') this.depth = 1;
        if (this.kind === 'string') this.inString = true;
        out += c;
        continue;
      }
      if (this.kind === 'literal' && (c === ',' || c === '}' || /\s/.test(c))) {
        this.kind = 'done';
        break;
      }
      out += c;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === '\\') this.escape = true;
        else if (c === '"') {
          this.inString = false;
          if (this.kind === 'string') this.kind = 'done';
        }
      } else if (this.kind === 'container') {
        if (c === '"') this.inString = true;
        else if (c === '{' || c === '[') this.depth++;
        else if ((c === '}' || c === ']') && --this.depth === 0) this.kind = 'done';
      }
    }
    this.args += out;
    return out;
  }

  close(): ParserEvent[] {
    const { index, id, start } = this.ctx;
    const lead = this.body.length - this.body.trimStart().length;
    const trimmed = this.body.trim();
    const fail = (message: string, offset: number): ParserEvent[] => [{ type: 'tool_call_error', index, message, position: start + offset }];
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      return fail(`malformed tool call JSON: ${(e as Error).message}`, lead + jsonErrorOffset(e, trimmed));
    }
    if (!isObject(value) || typeof value.name !== 'string' || value.name === '') return fail('tool call JSON has no "name" string', lead);
    let args = value.arguments ?? value.parameters ?? {};
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch (e) {
        return fail(`tool call "arguments" string is not JSON: ${(e as Error).message}`, lead);
      }
    }
    if (!isObject(args)) return fail('tool call "arguments" is not a JSON object', lead);
    const argumentsJson = this.started && this.kind === 'done' && this.args.trimStart().startsWith('{') ? this.args : JSON.stringify(args);
    const events: ParserEvent[] = [];
    if (!this.started) {
      events.push({ type: 'tool_call_start', index, id, name: value.name });
      events.push({ type: 'tool_call_args', index, text: argumentsJson });
    }
    events.push({ type: 'tool_call_end', index, call: { id, name: value.name, arguments: args, argumentsJson } });
    return events;
  }
}

/** Converts a Qwen3-Coder parameter value (raw text) using the tool's JSON-Schema type when known. */
function coderValue(raw: string, type: unknown): unknown {
  const types = Array.isArray(type) ? type : typeof type === 'string' ? [type] : [];
  if (types.includes('string')) return raw;
  const trimmed = raw.trim();
  try {
    const v: unknown = JSON.parse(trimmed);
    if (types.length === 0) return v;
    if ((types.includes('integer') || types.includes('number')) && typeof v === 'number') return v;
    if (types.includes('boolean') && typeof v === 'boolean') return v;
    if (types.includes('object') && isObject(v)) return v;
    if (types.includes('array') && Array.isArray(v)) return v;
    if (types.includes('null') && v === null) return v;
  } catch {
    if (types.includes('boolean') && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === 'true';
  }
  return raw;
}

const CODER_FUNCTION = /^\s*<function=([^>\n]+)>\n?/;
const CODER_PARAM = /^\s*<parameter=([^>\n]+)>\n?/;
const CODER_PARAM_END = /\n?<\/parameter>/;
const CODER_FUNCTION_END = /^\s*<\/function>\s*$/;

/** Qwen3-Coder XML body. Streams the name at `<function=…>` and each parameter as a JSON fragment when its `</parameter>` arrives. */
export class CoderBodyParser implements CallBodyParser {
  private body = '';
  private cursor = 0;
  private name: string | undefined;
  private readonly args: Record<string, unknown> = {};
  private argsJson = '';

  constructor(private readonly ctx: CallContext) {}

  feed(chunk: string): ParserEvent[] {
    this.body += chunk;
    const events: ParserEvent[] = [];
    const { index, id } = this.ctx;
    for (;;) {
      const rest = this.body.slice(this.cursor);
      if (this.name === undefined) {
        const m = CODER_FUNCTION.exec(rest);
        if (!m) break;
        this.name = m[1]!.trim();
        this.cursor += m[0].length;
        events.push({ type: 'tool_call_start', index, id, name: this.name });
        continue;
      }
      const p = CODER_PARAM.exec(rest);
      if (!p) break;
      const valueStart = p[0].length;
      const end = CODER_PARAM_END.exec(rest.slice(valueStart));
      if (!end) break;
      const key = p[1]!.trim();
      const schema = this.paramSchema(key);
      const value = coderValue(rest.slice(valueStart, valueStart + end.index), schema?.type);
      this.args[key] = value;
      const fragment = `${this.argsJson === '' ? '{' : ', '}${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      this.argsJson += fragment;
      events.push({ type: 'tool_call_args', index, text: fragment });
      this.cursor += valueStart + end.index + end[0].length;
    }
    return events;
  }

  private paramSchema(key: string): Record<string, unknown> | undefined {
    const tool = this.ctx.tools?.find((t) => (t.function ?? (t as any)).name === this.name);
    const props = (tool?.function?.parameters as any)?.properties;
    return isObject(props) && isObject(props[key]) ? (props[key] as Record<string, unknown>) : undefined;
  }

  close(): ParserEvent[] {
    const { index, id, start } = this.ctx;
    const rest = this.body.slice(this.cursor);
    const fail = (message: string): ParserEvent[] => [{ type: 'tool_call_error', index, message, position: start + this.cursor + (rest.length - rest.trimStart().length) }];
    if (this.name === undefined) return fail('tool call has no <function=name> tag');
    if (!CODER_FUNCTION_END.test(rest)) {
      return fail(CODER_PARAM.test(rest) ? 'unterminated <parameter> in tool call' : 'expected <parameter=…> or </function> in tool call');
    }
    const closing = this.argsJson === '' ? '{}' : '}';
    this.argsJson += closing;
    return [
      { type: 'tool_call_args', index, text: closing },
      { type: 'tool_call_end', index, call: { id, name: this.name, arguments: this.args, argumentsJson: this.argsJson } },
    ];
  }
}
