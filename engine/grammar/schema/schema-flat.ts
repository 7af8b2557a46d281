/**
 * Flattening of JSON Schema keywords into one conjunction (`Flat`): `$ref` and `allOf` are
 * merged in place, `anyOf`/`oneOf` are kept as disjunction groups for the compiler to
 * distribute. Subschemas of properties/items stay as lists of `SchemaAt` to be merged when
 * compiled. Keywords that cannot be honored throw `SchemaCompileError(keyword, path)`.
 */
import { SchemaCompileError } from '../errors.js';
import { FORMATS, NUMBER_FORMATS, UNCHECKED_FORMATS } from '../regex/formats.js';
import { isObject, type SchemaAt, type SchemaResolver } from './schema-resolver.js';

export const T_OBJ = 1, T_ARR = 2, T_STR = 4, T_NUM = 8, T_INT = 16, T_BOOL = 32, T_NULL = 64, T_ALL = 127;
const TYPE_BITS: Record<string, number> = {
  object: T_OBJ, array: T_ARR, string: T_STR, number: T_NUM | T_INT, integer: T_INT, boolean: T_BOOL, null: T_NULL,
};

/** Conjunction of constraints on one value. Lists of SchemaAt are conjunctions of subschemas. */
export interface Flat {
  path: string;
  types: number;
  enum: unknown[] | null;
  notEnum: unknown[];
  minLength: number;
  maxLength: number;
  patterns: string[];
  lo: number | null;
  loExcl: boolean;
  hi: number | null;
  hiExcl: boolean;
  multipleOf: number[];
  props: Map<string, SchemaAt[]>;
  required: Set<string>;
  /** Constraints on keys not in props and not matching a pattern. */
  additional: SchemaAt[];
  patternProps: { pattern: string; subs: SchemaAt[] }[];
  minProps: number;
  maxProps: number;
  propertyNames: SchemaAt[];
  prefix: SchemaAt[][];
  items: SchemaAt[];
  minItems: number;
  maxItems: number;
  anyOf: { alts: SchemaAt[]; one: boolean; path: string }[];
}

export function emptyFlat(path: string): Flat {
  return {
    path, types: T_ALL, enum: null, notEnum: [], minLength: 0, maxLength: Infinity, patterns: [],
    lo: null, loExcl: false, hi: null, hiExcl: false, multipleOf: [],
    props: new Map(), required: new Set(), additional: [], patternProps: [], minProps: 0, maxProps: Infinity,
    propertyNames: [], prefix: [], items: [], minItems: 0, maxItems: Infinity, anyOf: [],
  };
}

export function cloneFlat(f: Flat): Flat {
  return {
    ...f, notEnum: [...f.notEnum], patterns: [...f.patterns], multipleOf: [...f.multipleOf],
    props: new Map([...f.props].map(([k, v]) => [k, [...v]])), required: new Set(f.required),
    additional: [...f.additional], patternProps: f.patternProps.map((p) => ({ ...p, subs: [...p.subs] })),
    propertyNames: [...f.propertyNames], prefix: f.prefix.map((l) => [...l]), items: [...f.items], anyOf: [...f.anyOf],
  };
}

/** Constraints a Flat puts on the value of key `k`. */
export function keySubs(f: Flat, k: string): SchemaAt[] {
  const own = f.props.get(k);
  const pats = f.patternProps.filter((p) => new RegExp(p.pattern, 'u').test(k)).flatMap((p) => p.subs);
  if (own) return [...own, ...pats];
  return pats.length ? pats : f.additional;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as never)[k], (b as never)[k]));
}

const UNSUPPORTED: Record<string, string> = {
  uniqueItems: 'uniqueItems is not supported', contains: 'contains is not supported',
  dependencies: 'dependencies are not supported', dependentRequired: 'dependentRequired is not supported',
  dependentSchemas: 'dependentSchemas is not supported', $dynamicRef: '$dynamicRef is not supported',
  $recursiveRef: '$recursiveRef is not supported',
};

/** Applies schema `s` (with its own $ref/allOf) onto `f`. `active` guards against $ref cycles. */
export function applySchema(f: Flat, s: SchemaAt, r: SchemaResolver, active: Set<unknown> = new Set()): void {
  const sch = s.schema;
  if (sch === true) return;
  if (sch === false) {
    f.types = 0;
    return;
  }
  if (!isObject(sch)) throw new SchemaCompileError('a schema must be an object or a boolean', 'schema', s.path);
  if (active.has(sch)) throw new SchemaCompileError('$ref/allOf cycle without an intervening value', '$ref', s.path);
  active.add(sch);
  const err = (kw: string, msg: string): never => {
    throw new SchemaCompileError(msg, kw, s.path);
  };
  const legacy = r.draft === 'draft-07' || r.draft === 'draft-04';
  if (typeof sch.$ref === 'string') {
    applySchema(f, r.resolve(sch.$ref, s), r, active);
    if (legacy) {
      active.delete(sch);
      return; // siblings of $ref are ignored before 2019-09
    }
  }
  for (const kw of Object.keys(UNSUPPORTED)) {
    if (!(kw in sch)) continue;
    const v = sch[kw];
    if (kw === 'uniqueItems' && (v === false || (typeof sch.maxItems === 'number' && sch.maxItems <= 1))) continue;
    if ((kw === 'dependencies' || kw === 'dependentRequired' || kw === 'dependentSchemas') && isObject(v) && Object.keys(v).length === 0) continue;
    err(kw, UNSUPPORTED[kw]);
  }
  if ('if' in sch && ('then' in sch || 'else' in sch)) err('if', 'if/then/else is not supported');
  const child = (x: unknown, key: string) => r.at(x, s, key);

  // type
  if (sch.type !== undefined) {
    const list = Array.isArray(sch.type) ? sch.type : [sch.type];
    let mask = 0;
    for (const t of list) {
      if (typeof t !== 'string' || !(t in TYPE_BITS)) err('type', `unknown type ${JSON.stringify(t)}`);
      mask |= TYPE_BITS[t as string];
    }
    if (sch.nullable === true) mask |= T_NULL;
    f.types &= mask;
  }
  if ('enum' in sch) {
    if (!Array.isArray(sch.enum)) err('enum', 'enum must be an array');
    intersectEnum(f, sch.enum as unknown[]);
  }
  if ('const' in sch) intersectEnum(f, [sch.const]);

  // strings
  if (typeof sch.minLength === 'number') f.minLength = Math.max(f.minLength, Math.ceil(sch.minLength));
  if (typeof sch.maxLength === 'number') f.maxLength = Math.min(f.maxLength, Math.floor(sch.maxLength));
  if (typeof sch.pattern === 'string') f.patterns.push(sch.pattern);

  // numbers
  const lower = (v: number, excl: boolean) => {
    if (f.lo === null || v > f.lo || (v === f.lo && excl)) [f.lo, f.loExcl] = [v, excl];
  };
  const upper = (v: number, excl: boolean) => {
    if (f.hi === null || v < f.hi || (v === f.hi && excl)) [f.hi, f.hiExcl] = [v, excl];
  };
  if (typeof sch.minimum === 'number') lower(sch.minimum, sch.exclusiveMinimum === true);
  if (typeof sch.maximum === 'number') upper(sch.maximum, sch.exclusiveMaximum === true);
  if (typeof sch.exclusiveMinimum === 'number') lower(sch.exclusiveMinimum, true);
  if (typeof sch.exclusiveMaximum === 'number') upper(sch.exclusiveMaximum, true);
  if (typeof sch.format === 'string') {
    const spec = FORMATS[sch.format];
    if (spec) {
      f.patterns.push(spec.pattern);
      if (spec.maxLength !== undefined) f.maxLength = Math.min(f.maxLength, spec.maxLength);
    } else if (NUMBER_FORMATS[sch.format]) {
      f.types &= ~T_NUM; // integers only
      lower(NUMBER_FORMATS[sch.format][0], false);
      upper(NUMBER_FORMATS[sch.format][1], false);
    } else if (!UNCHECKED_FORMATS.has(sch.format)) err('format', `format ${JSON.stringify(sch.format)} is not supported`);
  }
  if (typeof sch.multipleOf === 'number') {
    if (!(sch.multipleOf > 0)) err('multipleOf', 'multipleOf must be positive');
    f.multipleOf.push(sch.multipleOf);
  }

  // objects
  const hasObjKw = isObject(sch.properties) || isObject(sch.patternProperties) || 'additionalProperties' in sch;
  if (hasObjKw) {
    const props = isObject(sch.properties) ? sch.properties : {};
    const pats = isObject(sch.patternProperties) ? Object.entries(sch.patternProperties) : [];
    const addl = 'additionalProperties' in sch ? [child(sch.additionalProperties, 'additionalProperties')] : [];
    if ((pats.length && f.additional.length) || (f.patternProps.length && addl.length)) {
      err('patternProperties', 'patternProperties combined with additionalProperties across allOf is not supported');
    }
    const sPats = pats.map(([p, sub]) => ({ pattern: p, subs: [child(sub, `patternProperties/${p}`)] }));
    for (const p of sPats) checkRegex(p.pattern, s.path, 'patternProperties');
    const sFor = (k: string): SchemaAt[] => {
      const own = k in props ? [child(props[k], `properties/${k}`)] : [];
      const m = sPats.filter((p) => new RegExp(p.pattern, 'u').test(k)).flatMap((p) => p.subs);
      if (own.length) return [...own, ...m];
      return m.length ? m : addl;
    };
    const keys = new Set([...f.props.keys(), ...Object.keys(props)]);
    const next = new Map<string, SchemaAt[]>();
    for (const k of keys) next.set(k, [...keySubs(f, k), ...sFor(k)]);
    f.props = next;
    f.additional.push(...addl);
    f.patternProps.push(...sPats);
  }
  if (Array.isArray(sch.required)) for (const k of sch.required) f.required.add(String(k));
  if (typeof sch.minProperties === 'number') f.minProps = Math.max(f.minProps, sch.minProperties);
  if (typeof sch.maxProperties === 'number') f.maxProps = Math.min(f.maxProps, sch.maxProperties);
  if ('propertyNames' in sch) f.propertyNames.push(child(sch.propertyNames, 'propertyNames'));
  if ('unevaluatedProperties' in sch && !('additionalProperties' in sch)) {
    const applicators = ['allOf', 'anyOf', 'oneOf', '$ref', 'if', 'not', 'dependentSchemas', 'patternProperties'];
    if (applicators.some((k) => k in sch)) err('unevaluatedProperties', 'unevaluatedProperties with applicators is not supported');
    const addl = [child(sch.unevaluatedProperties, 'unevaluatedProperties')];
    for (const k of f.props.keys()) if (!(isObject(sch.properties) && k in sch.properties)) f.props.get(k)!.push(...addl);
    f.additional.push(...addl);
  }

  // arrays
  let sPrefix: SchemaAt[] | null = null;
  let sItems: SchemaAt[] | null = null;
  if (Array.isArray(sch.prefixItems)) sPrefix = sch.prefixItems.map((x, i) => child(x, `prefixItems/${i}`));
  if (Array.isArray(sch.items)) {
    sPrefix = sch.items.map((x, i) => child(x, `items/${i}`));
    if ('additionalItems' in sch) sItems = [child(sch.additionalItems, 'additionalItems')];
  } else if ('items' in sch) sItems = [child(sch.items, 'items')];
  if ('unevaluatedItems' in sch && !('items' in sch)) {
    if (['allOf', 'anyOf', 'oneOf', '$ref', 'if', 'not', 'contains'].some((k) => k in sch)) {
      err('unevaluatedItems', 'unevaluatedItems with applicators is not supported');
    }
    sItems = [child(sch.unevaluatedItems, 'unevaluatedItems')];
  }
  if (sPrefix || sItems) {
    const sp = sPrefix ?? [];
    const n = Math.max(f.prefix.length, sp.length);
    const nextPrefix: SchemaAt[][] = [];
    for (let i = 0; i < n; i++) {
      const a = i < f.prefix.length ? f.prefix[i] : f.items;
      const b = i < sp.length ? [sp[i]] : (sItems ?? []);
      nextPrefix.push([...a, ...b]);
    }
    f.prefix = nextPrefix;
    if (sItems) f.items.push(...sItems);
  }
  if (typeof sch.minItems === 'number') f.minItems = Math.max(f.minItems, sch.minItems);
  if (typeof sch.maxItems === 'number') f.maxItems = Math.min(f.maxItems, sch.maxItems);

  // applicators
  if (Array.isArray(sch.allOf)) sch.allOf.forEach((x, i) => applySchema(f, child(x, `allOf/${i}`), r, active));
  for (const kw of ['anyOf', 'oneOf'] as const) {
    const l = sch[kw];
    if (l === undefined) continue;
    if (!Array.isArray(l) || l.length === 0) err(kw, `${kw} must be a non-empty array`);
    f.anyOf.push({ alts: (l as unknown[]).map((x, i) => child(x, `${kw}/${i}`)), one: kw === 'oneOf', path: `${s.path}/${kw}` });
  }
  if ('not' in sch) applyNot(f, child(sch.not, 'not'), r);
  active.delete(sch);
}

function intersectEnum(f: Flat, values: unknown[]): void {
  f.enum = f.enum === null ? [...values] : f.enum.filter((v) => values.some((w) => deepEqual(v, w)));
}

function applyNot(f: Flat, s: SchemaAt, r: SchemaResolver): void {
  let sch = s.schema;
  if (isObject(sch) && typeof sch.$ref === 'string' && Object.keys(sch).length === 1) sch = r.resolve(sch.$ref, s).schema;
  if (sch === false) return;
  if (sch === true || (isObject(sch) && Object.keys(sch).every((k) => ANNOTATIONS.has(k)))) {
    f.types = 0;
    return;
  }
  if (isObject(sch)) {
    const keys = Object.keys(sch).filter((k) => !ANNOTATIONS.has(k));
    if (keys.length === 1 && keys[0] === 'type') {
      const list = Array.isArray(sch.type) ? sch.type : [sch.type];
      let mask = 0;
      for (const t of list) mask |= TYPE_BITS[t as string] ?? 0;
      // "not integer" leaves non-integer numbers, which this grammar cannot express on its own
      if (mask & T_INT && !(mask & T_NUM)) f.types &= ~(mask | T_NUM);
      else f.types &= ~mask;
      return;
    }
    if (keys.length === 1 && (keys[0] === 'enum' || keys[0] === 'const')) {
      f.notEnum.push(...(keys[0] === 'enum' ? (sch.enum as unknown[]) : [sch.const]));
      return;
    }
    if (keys.length === 1 && keys[0] === 'required' && Array.isArray(sch.required) && sch.required.length === 0) {
      f.types &= ~T_OBJ;
      return;
    }
  }
  throw new SchemaCompileError('only not: {type}, not: {enum|const} and not: {} are supported', 'not', s.path);
}

/** Keywords that never constrain a value. */
export const ANNOTATIONS = new Set([
  'title', 'description', 'default', 'examples', 'example', '$comment', 'deprecated', 'readOnly', 'writeOnly',
  '$schema', '$id', '$anchor', '$defs', 'definitions', 'contentMediaType', 'contentEncoding', 'contentSchema', '$vocabulary',
]);

function checkRegex(p: string, path: string, kw: string): void {
  try {
    new RegExp(p, 'u');
  } catch {
    throw new SchemaCompileError(`invalid regular expression ${JSON.stringify(p)}`, kw, path);
  }
}
