/**
 * Reads a finished XML tool-call body (the text between `<tool_call>` and `</tool_call>`; in MiniMax's dialect one
 * `<invoke>` of a call block) back into `{name, arguments}`, typing each value with the rule of `xml-values.ts`, and validates the
 * arguments against the tool's schema with ajv, as the JSON form's calls are. The reading is the
 * grammar's own: a parser that follows it reads every constrained call the same way.
 *
 * Body: `\n<function=NAME>\n` then per parameter `<parameter=P>\nVALUE\n</parameter>\n`, then
 * `</function>\n`. One newline after `<parameter=P>` and one before `</parameter>` are dropped
 * (as Qwen's template writes them and vLLM's qwen3coder parser strips them); other whitespace
 * between tags is ignored.
 */
import type { XmlValueTyper, XmlValueTyping } from '../../tokens/xml-param-value.js';
import { SchemaCompileError } from '../errors.js';
import { validateOutput } from '../schema/validate-output.js';
import type { ToolDef } from './call-grammar.js';
import { xmlTool, type XmlTool } from './xml-args.js';
import { readXmlValue, type ParamClass } from './xml-values.js';
import { QWEN_XML, type XmlDialect } from './xml-dialect.js';

/** A call read back, or why it could not be. */
export type XmlCallRead = { ok: true; name: string; arguments: Record<string, unknown> } | { ok: false; error: string };

const PARAM_CLOSE = '</parameter>';

/** Splits a body into the function name and its parameters' raw values (Qwen's form: newlines around values dropped). */
export function splitXmlCall(body: string, d: XmlDialect = QWEN_XML): { name: string; params: [string, string][] } | { error: string } {
  const f = d.readCall.exec(body);
  if (!f) return { error: `no ${d.callHead('NAME').trim()} tag` };
  let rest = body.slice(f[0].length);
  const params: [string, string][] = [];
  for (let p = d.readParam.exec(rest); p; p = d.readParam.exec(rest)) {
    rest = rest.slice(p[0].length);
    const end = rest.indexOf(PARAM_CLOSE);
    if (end < 0) return { error: `unterminated parameter ${JSON.stringify(p[1])}` };
    const value = rest.slice(0, end);
    params.push([p[1].trim(), d.valueNewlines && value.endsWith('\n') ? value.slice(0, -1) : value]);
    rest = rest.slice(end + PARAM_CLOSE.length);
  }
  if (!d.readEnd.test(rest)) return { error: `expected a parameter or ${d.argsClose.trim()}` };
  return { name: f[1].trim(), params };
}

/** Reads a body with the tools' schemas; values are typed per parameter class. Does not validate. */
export function readXmlCall(body: string, tools: ToolDef[], d: XmlDialect = QWEN_XML): XmlCallRead {
  const s = splitXmlCall(body, d);
  if ('error' in s) return { ok: false, error: s.error };
  const tool = tools.find((t) => t.name === s.name);
  if (!tool) return { ok: false, error: `unknown tool ${JSON.stringify(s.name)}` };
  const x = xmlTool(tool, d);
  const args: Record<string, unknown> = {};
  for (const [k, v] of s.params) {
    if (Object.hasOwn(args, k)) return { ok: false, error: `parameter ${JSON.stringify(k)} given twice` };
    args[k] = readXmlValue(v, x.classOf(k));
  }
  return { ok: true, name: s.name, arguments: args };
}

/** `readXmlCall`, then the arguments validated against the tool's schema (counted in `outputValidation`). */
export function checkXmlCall(body: string, tools: ToolDef[], d: XmlDialect = QWEN_XML): XmlCallRead {
  const r = readXmlCall(body, tools, d);
  if (!r.ok) return r;
  const schema = tools.find((t) => t.name === r.name)!.parameters ?? { type: 'object' };
  const v = validateOutput(schema, JSON.stringify(r.arguments));
  return v.ok ? r : { ok: false, error: `arguments of ${r.name} fail the schema: ${v.error}` };
}

const TYPINGS: Record<ParamClass, XmlValueTyping> = {
  string: { raw: true, read: (text) => readXmlValue(text, 'string') },
  json: { raw: false, read: (text) => readXmlValue(text, 'json') },
  mixed: { raw: false, read: (text) => readXmlValue(text, 'mixed') },
};

/**
 * The grammar's reading of parameter values (in dialect `d`) for a streaming parser (engine/tokens' `XmlValueTyper`):
 * class `string` streams raw text, `json` and `mixed` are read whole by `readXmlValue`. Undefined for
 * an unknown tool or one the XML form cannot compile (the grammar never let its calls be written).
 */
export function xmlValueTyper(tools: readonly ToolDef[], d: XmlDialect = QWEN_XML): XmlValueTyper {
  const compiled = new Map<string, XmlTool | null>();
  const toolOf = (name: string): XmlTool | null => {
    if (compiled.has(name)) return compiled.get(name)!;
    const tool = tools.find((t) => t.name === name);
    let x: XmlTool | null = null;
    try {
      x = tool ? xmlTool(tool, d) : null;
    } catch (e) {
      if (!(e instanceof SchemaCompileError)) throw e;
    }
    compiled.set(name, x);
    return x;
  };
  return (name, param) => {
    const x = toolOf(name);
    return x ? TYPINGS[x.classOf(param)] : undefined;
  };
}
