/**
 * Python semantics for Jinja's `|string` filter under `@huggingface/jinja`.
 *
 * Chat templates run in Python (transformers: jinja2), where `x|string` is `str(x)`: `True`, `False`,
 * `None`, `['a', 1]`, `{'k': 2.0}`. `@huggingface/jinja` writes `true`, JSON, and refuses `none|string`.
 * Qwen3.5 and Qwen3-Coder render tool-call arguments (and schema fields) with `|string`, so a history
 * with `{"recursive": true}` must read `True` as the model saw in training. {@link usePythonStringFilter}
 * rewrites every `X|string` node of a parsed template into `PY_STR(X, X is none, X is integer)` (a context
 * function sees `none` and undefined alike, and numbers without their int/float type), which the
 * renderer binds to {@link pythonStr}.
 */

/** Name of the render-context function that `|string` nodes are rewritten to call. */
export const PY_STR = '__resident_py_str';

/** A value of the Jinja runtime as a context function receives nested ones: `{type: 'IntegerValue', value: 3}`. */
interface RuntimeLike {
  type: string;
  value: unknown;
}

const isRuntime = (v: unknown): v is RuntimeLike => v !== null && typeof v === 'object' && typeof (v as RuntimeLike).type === 'string' && 'value' in v;

/** Python's repr of a float (shortest round-trip digits; scientific below 1e-4 and from 1e16, two exponent digits at least). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, e] = x.toExponential().split('e') as [string, string];
  const exp = Number(e);
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = x < 0 ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp >= digits.length - 1) return `${sign}${digits}${'0'.repeat(exp - digits.length + 1)}.0`;
  if (exp >= 0) return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

const pythonInt = (x: number): string => (Number.isSafeInteger(x) ? String(x) : BigInt(x).toString());

/** Python str.isprintable() is false for these (plus ASCII controls). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const hex = (c: number, n: number) => c.toString(16).padStart(n, '0');
/** The renderer's escape delimiters (chat-template.ts): they stand for printable text, so repr keeps them. */
const RESERVED = new Set(['\uE000', '\uE001']);

/** Python's repr of a str. */
export function pythonStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && !RESERVED.has(ch) && NON_PRINTABLE.test(ch))) out += c < 0x100 ? `\\x${hex(c, 2)}` : c < 0x10000 ? `\\u${hex(c, 4)}` : `\\U${hex(c, 8)}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's repr of a runtime value nested in a list or dict. */
function reprRuntime(v: RuntimeLike): string {
  switch (v.type) {
    case 'StringValue': return pythonStrRepr(v.value as string);
    case 'IntegerValue': return pythonInt(v.value as number);
    case 'FloatValue': return pythonFloatRepr(v.value as number);
    default: return reprPlain(v.value);
  }
}

/** Python's repr of a context-function argument (`integer`: the number's Jinja type is integer). */
function reprPlain(v: unknown, integer = Number.isInteger(v)): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return integer ? pythonInt(v) : pythonFloatRepr(v);
  if (typeof v === 'string') return pythonStrRepr(v);
  if (isRuntime(v)) return reprRuntime(v);
  if (Array.isArray(v)) return `[${v.map((x) => (isRuntime(x) ? reprRuntime(x) : reprPlain(x))).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${pythonStrRepr(String(k))}: ${isRuntime(x) ? reprRuntime(x) : reprPlain(x)}`).join(', ')}}`;
  return String(v);
}

/** Python's `str(x)` of a value `|string` is applied to (strings unchanged; `none` is 'None', Jinja's undefined ''). */
export function pythonStr(v: unknown, isNone = v === null, isInteger = Number.isInteger(v)): string {
  if (isNone) return 'None';
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return reprPlain(v, isInteger);
}

/** Rewrites every `X|string` node of a parsed template into `PY_STR(X, X is none, X is integer)`, in place; returns how many. */
export function usePythonStringFilter(program: unknown): number {
  let n = 0;
  const seen = new Set<object>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    for (const child of Object.values(node)) walk(child);
    const f = node as { type?: string; filter?: { type?: string; value?: unknown }; operand?: unknown };
    if (f.type === 'FilterExpression' && f.filter?.type === 'Identifier' && f.filter.value === 'string') {
      const test = (name: string) => ({ type: 'TestExpression', operand: f.operand, negate: false, test: { type: 'Identifier', value: name } });
      Object.assign(node, { type: 'CallExpression', callee: { type: 'Identifier', value: PY_STR }, args: [f.operand, test('none'), test('integer')] });
      n++;
    }
  };
  walk(program);
  return n;
}
