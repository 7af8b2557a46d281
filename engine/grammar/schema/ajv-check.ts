/**
 * ajv for the grammar layer: meta-schema validation of tool schemas before compiling, and the
 * validators behind `validateOutput`. One Ajv instance per draft, created on first use.
 */
import _Ajv2020 from 'ajv/dist/2020.js';
import _Ajv2019 from 'ajv/dist/2019.js';
import _AjvDraft7 from 'ajv';
import _addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { SchemaCompileError } from '../errors.js';
import { detectDraft, isObject, type Draft } from './schema-resolver.js';

type AjvLike = {
  validateSchema(s: unknown): boolean | Promise<unknown>;
  compile(s: unknown): ValidateFunction;
  errorsText(e?: unknown): string;
  errors?: unknown;
};
type AjvCtor = new (opts: object) => AjvLike;
const pick = <T>(m: T): T => ((m as { default?: T }).default ?? m);
const Ajv2020 = pick(_Ajv2020) as unknown as AjvCtor;
const Ajv2019 = pick(_Ajv2019) as unknown as AjvCtor;
const AjvDraft7 = pick(_AjvDraft7) as unknown as AjvCtor;
const addFormats = pick(_addFormats) as unknown as (ajv: AjvLike) => void;

const instances = new Map<string, AjvLike>();

function ajvFor(draft: Draft): AjvLike {
  const kind = draft === '2020-12' ? '2020' : draft === '2019-09' ? '2019' : '07';
  let a = instances.get(kind);
  if (!a) {
    const Ctor = kind === '2020' ? Ajv2020 : kind === '2019' ? Ajv2019 : AjvDraft7;
    a = new Ctor({ strict: false, logger: false, validateFormats: true, allErrors: false });
    addFormats(a);
    instances.set(kind, a);
  }
  return a;
}

/** Deep copy without `$schema`, with draft-04 boolean `exclusiveMinimum/Maximum` rewritten to draft-06+ form. */
function normalize(s: unknown, draft04: boolean, top = true): unknown {
  if (Array.isArray(s)) return s.map((x) => normalize(x, draft04, false));
  if (!isObject(s)) return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (top && k === '$schema') continue;
    if (k === 'enum' || k === 'const' || k === 'default' || k === 'examples') out[k] = v;
    else out[k] = normalize(v, draft04, false);
  }
  if (draft04) {
    for (const [ex, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
      if (typeof out[ex] === 'boolean') {
        if (out[ex] === true && typeof out[bound] === 'number') (out[ex] = out[bound]), delete out[bound];
        else delete out[ex];
      }
    }
    if (typeof out.id === 'string' && out.$id === undefined) (out.$id = out.id), delete out.id;
  }
  return out;
}

/** Throws SchemaCompileError(keyword 'schema') when `schema` is not a valid JSON Schema of its draft. */
export function checkSchema(schema: unknown): void {
  if (typeof schema === 'boolean') return;
  if (!isObject(schema)) throw new SchemaCompileError('a schema must be an object or a boolean', 'schema', '#');
  const draft = detectDraft(schema);
  const ajv = ajvFor(draft);
  let ok: boolean;
  try {
    ok = ajv.validateSchema(normalize(schema, draft === 'draft-04')) as boolean;
  } catch (e) {
    throw new SchemaCompileError(`invalid JSON Schema: ${(e as Error).message}`, 'schema', '#');
  }
  if (!ok) throw new SchemaCompileError(`invalid JSON Schema: ${ajv.errorsText(ajv.errors)}`, 'schema', '#');
}

const validators = new WeakMap<object, ValidateFunction>();

/** An ajv validator for `schema` (memoized per schema object). */
export function ajvValidator(schema: unknown): ValidateFunction {
  const key = isObject(schema) ? schema : { schema };
  let v = validators.get(key);
  if (!v) {
    const draft = detectDraft(schema);
    v = ajvFor(draft).compile(normalize(schema, draft === 'draft-04'));
    validators.set(key, v);
  }
  return v;
}
