/**
 * Parameter values of XML tool calls (`<parameter=KEY>\nVALUE\n</parameter>`, Qwen3-Coder / Qwen3.5):
 * how the chat template writes them and how they are read back, typed by the tool's JSON Schema as
 * Qwen's own parser (vLLM `qwen3_coder`) does:
 *   - strings (and parameters the schema does not name, or schemas without a type) stay raw text;
 *   - `null` / `None` is null for non-string types and for nullable strings;
 *   - integers as `int()`, numbers as `float()` (integral → integer), booleans `true`/`false` in any case;
 *   - objects, arrays and other types as JSON, else as a Python literal (`{'k': True}`).
 * A value that does not read as its type stays the raw string (vLLM maps a non-boolean to false; we keep
 * the text, so argument validation reports it).
 */
import { pythonFloatRepr, pythonStr } from './jinja-python.js';
import { parsePythonLiteral } from './python-literal.js';

/** A parameter's type as the parser reads its schema. */
export interface XmlParamType {
  kind: 'string' | 'integer' | 'number' | 'boolean' | 'container' | 'other';
  nullable: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function kindOf(name: string): XmlParamType['kind'] {
  const t = name.trim().toLowerCase();
  if (['string', 'str', 'text', 'varchar', 'char', 'enum'].includes(t)) return 'string';
  if (/^(int|uint|long|short|unsigned)/.test(t)) return 'integer';
  if (/^(num|float)/.test(t)) return 'number';
  if (['boolean', 'bool', 'binary'].includes(t)) return 'boolean';
  if (['object', 'array', 'arr'].includes(t) || /^(dict|list)/.test(t)) return 'container';
  return 'other';
}

/**
 * The type of a parameter from its property schema (undefined: the tool or the parameter is unknown).
 * `type` (a name or a list), else the first non-null member of `anyOf` / `oneOf`; no type → string.
 */
export function xmlParamType(schema: unknown): XmlParamType {
  if (!isObject(schema)) return { kind: 'string', nullable: false };
  const alts: unknown[] = Array.isArray(schema.type) ? schema.type : typeof schema.type === 'string' ? [schema.type] : [];
  const union = schema.anyOf ?? schema.oneOf;
  if (alts.length === 0 && Array.isArray(union)) for (const s of union) if (isObject(s) && typeof s.type === 'string') alts.push(s.type);
  const names = alts.filter((t): t is string => typeof t === 'string');
  const first = names.find((t) => t.trim().toLowerCase() !== 'null');
  return { kind: first === undefined ? (names.length ? 'other' : 'string') : kindOf(first), nullable: names.some((t) => t.trim().toLowerCase() === 'null') };
}

/**
 * How one parameter's value is read when something other than the schema reading above decides it
 * (the grammar that constrained the call: engine/grammar's `xmlValueTyper`, injected by the runtime).
 * `raw`: the value is raw text, streamed as it arrives; `read`: the finished value (one leading and
 * one trailing newline removed) typed.
 */
export interface XmlValueTyping {
  raw: boolean;
  read(text: string): unknown;
}

/** The typing of parameter `param` of tool `tool`; undefined falls back to the schema reading (`xmlParamType`). */
export type XmlValueTyper = (tool: string, param: string) => XmlValueTyping | undefined;

/** The parameter's value is streamed as it arrives (raw text that no later text can retype). */
export const streamsRaw = (t: XmlParamType): boolean => t.kind === 'string' && !t.nullable;

const INT = /^[+-]?\d+(?:_\d+)*$/;
const FLOAT = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?$/;

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Reads a raw value (its one leading and one trailing newline already removed) as its type. */
export function convertXmlParamValue(raw: string, t: XmlParamType): unknown {
  const text = raw.trim();
  const isNull = /^(null|none)$/i.test(text);
  if (t.kind === 'string') return t.nullable && isNull ? null : raw;
  if (isNull) return null;
  switch (t.kind) {
    case 'integer': {
      if (!INT.test(text)) return raw;
      const n = Number(text.replace(/_/g, ''));
      return Number.isSafeInteger(n) ? n : raw;
    }
    case 'number': {
      if (!FLOAT.test(text)) return raw;
      const n = Number(text.replace(/_/g, ''));
      return Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return /^true$/i.test(text) ? true : /^false$/i.test(text) ? false : raw;
    default: {
      const json = parseJson(text);
      if (json.ok && (t.kind === 'other' || typeof json.value !== 'string')) return json.value;
      const lit = parsePythonLiteral(json.ok && typeof json.value === 'string' ? json.value : text);
      return lit === undefined ? (json.ok ? json.value : raw) : lit;
    }
  }
}

/** JSON as Python's `json.dumps(ensure_ascii=False)` writes it (`", "` and `": "` separators), which templates' `tojson` is. */
export function pythonJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pythonJson).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x)}`).join(', ')}}`;
  if (typeof v === 'number' && !Number.isInteger(v)) return pythonFloatRepr(v);
  return JSON.stringify(v) ?? 'null';
}

/** The text the Qwen3.5 / Qwen3-Coder templates write for a value: JSON for objects and arrays, Python's `str()` for the rest. */
export function xmlParamText(value: unknown): string {
  return value !== null && typeof value === 'object' ? pythonJson(value) : pythonStr(value);
}
