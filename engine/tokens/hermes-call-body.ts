/**
 * Incremental parser of one Qwen3 / Hermes JSON tool-call body (`{"name": …, "arguments": {…}}`, the
 * text between `<tool_call>` and `</tool_call>`). Streams the name as soon as it is complete and the raw
 * arguments text as it arrives; a malformed body becomes a `tool_call_error` at close.
 */
import type { CallBodyParser, ParserEvent, CallContext } from './tool-call-formats.js';

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
