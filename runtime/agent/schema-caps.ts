/**
 * Bounds tool-call arguments so a call fits in a turn: every string in a tool's parameters schema
 * gets `maxLength` ≤ the cap. Applied to the definitions a session renders and the grammar enforces;
 * the registry still validates against the tool's own schema (the capped one is stricter).
 */
import type { ToolDefinition } from '../../engine/tokens/messages.js';

type Schema = Record<string, unknown>;

const isString = (s: Schema) => s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string'));
const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const;
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions'] as const;
const SUBSCHEMA_ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'] as const;

/** A copy of `schema` whose strings are at most `cap` characters long. */
export function capStringLengths(schema: unknown, cap: number): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const s: Schema = { ...(schema as Schema) };
  if (isString(s) && !(typeof s.maxLength === 'number' && s.maxLength <= cap)) {
    s.maxLength = cap;
    if (typeof s.minLength === 'number' && s.minLength > cap) s.minLength = cap;
  }
  for (const k of SUBSCHEMA_ONE) if (s[k] && typeof s[k] === 'object') s[k] = capStringLengths(s[k], cap);
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(s[k])) s[k] = (s[k] as unknown[]).map((x) => capStringLengths(x, cap));
  for (const k of SUBSCHEMA_MAPS) {
    const m = s[k];
    if (m && typeof m === 'object' && !Array.isArray(m)) s[k] = Object.fromEntries(Object.entries(m as Schema).map(([n, x]) => [n, capStringLengths(x, cap)]));
  }
  return s;
}

/** Tool definitions with every argument string capped at `cap` characters (unchanged when `cap` is undefined). */
export function capDefinitions(defs: ToolDefinition[], cap: number | undefined): ToolDefinition[] {
  if (cap === undefined) return defs;
  return defs.map((d) => ({ ...d, function: { ...d.function, parameters: capStringLengths(d.function.parameters ?? { type: 'object' }, cap) as Record<string, unknown> } }));
}
