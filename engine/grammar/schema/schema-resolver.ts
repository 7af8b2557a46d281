/**
 * Local `$ref` resolution for a JSON Schema document: indexes every subschema with its base URI
 * (`$id` scoping), `$anchor`s and embedded resources, and resolves JSON pointers, anchors and
 * relative references against it. Anything outside the document is a remote `$ref` and throws.
 */
import { SchemaCompileError } from '../errors.js';

/** A schema with the base URI and JSON pointer it appears at. */
export interface SchemaAt {
  schema: unknown;
  base: string;
  path: string;
}

export type Draft = '2020-12' | '2019-09' | 'draft-07' | 'draft-04';

const ROOT = 'resident:/schema.json';
/** Keys under which (maps or arrays of) subschemas live. */
const MAP_KEYS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];
const ONE_KEYS = ['additionalProperties', 'additionalItems', 'items', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties'];
const LIST_KEYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function stripHash(u: string): string {
  const i = u.indexOf('#');
  return i < 0 ? u : u.slice(0, i);
}

/** Detects the draft from `$schema` (default 2020-12). */
export function detectDraft(root: unknown): Draft {
  const s = isObject(root) && typeof root.$schema === 'string' ? root.$schema : '';
  if (/draft-0[4]/.test(s)) return 'draft-04';
  if (/draft-0[67]/.test(s)) return 'draft-07';
  if (/2019-09/.test(s)) return '2019-09';
  return '2020-12';
}

/** Index of a schema document for `$ref` resolution. */
export class SchemaResolver {
  private readonly resources = new Map<string, unknown>();
  private readonly bases = new WeakMap<object, string>();
  private readonly paths = new WeakMap<object, string>();
  readonly draft: Draft;
  readonly root: SchemaAt;

  constructor(root: unknown) {
    this.draft = detectDraft(root);
    this.index(root, ROOT, '#', true);
    this.root = { schema: root, base: this.baseOf(root, ROOT), path: '#' };
  }

  private baseOf(schema: unknown, fallback: string): string {
    return (isObject(schema) && this.bases.get(schema)) || fallback;
  }

  private index(s: unknown, parentBase: string, path: string, isRoot = false): void {
    if (!isObject(s) || this.bases.has(s)) return;
    let base = parentBase;
    const id = typeof s.$id === 'string' ? s.$id : this.draft === 'draft-04' && typeof s.id === 'string' ? s.id : undefined;
    // in draft-07 and earlier, "$id": "#name" is an anchor, and $ref siblings (incl. $id) are ignored
    const refIgnoresSiblings = this.draft === 'draft-07' || this.draft === 'draft-04';
    if (id !== undefined && !(refIgnoresSiblings && typeof s.$ref === 'string')) {
      try {
        const u = new URL(id, parentBase).href;
        if (id.startsWith('#')) this.resources.set(u, s);
        else {
          base = stripHash(u);
          this.resources.set(base, s);
          if (u.includes('#') && u.length > base.length + 1) this.resources.set(u, s);
        }
      } catch {
        throw new SchemaCompileError(`invalid $id ${JSON.stringify(id)}`, '$id', path);
      }
    }
    if (isRoot) this.resources.set(stripHash(base), s);
    if (typeof s.$anchor === 'string') this.resources.set(`${base}#${s.$anchor}`, s);
    this.bases.set(s, base);
    this.paths.set(s, path);
    for (const k of MAP_KEYS) {
      const m = s[k];
      if (isObject(m)) for (const [name, sub] of Object.entries(m)) this.index(sub, base, `${path}/${k}/${escapePtr(name)}`);
    }
    for (const k of ONE_KEYS) if (isObject(s[k])) this.index(s[k], base, `${path}/${k}`);
    for (const k of LIST_KEYS) {
      const l = s[k];
      if (Array.isArray(l)) l.forEach((sub, i) => this.index(sub, base, `${path}/${k}/${i}`));
    }
  }

  /** Wraps a subschema with its base and path (for children of an indexed schema). */
  at(schema: unknown, parent: SchemaAt, key: string): SchemaAt {
    const path = (isObject(schema) && this.paths.get(schema)) || `${parent.path}/${key}`;
    return { schema, base: this.baseOf(schema, parent.base), path };
  }

  /** Resolves `ref` found in the schema at `from`. Throws SchemaCompileError for remote or missing targets. */
  resolve(ref: string, from: SchemaAt): SchemaAt {
    let url: string;
    try {
      url = new URL(ref, from.base).href;
    } catch {
      throw new SchemaCompileError(`invalid $ref ${JSON.stringify(ref)}`, '$ref', from.path);
    }
    const hash = url.indexOf('#');
    const docUri = hash < 0 ? url : url.slice(0, hash);
    const frag = hash < 0 ? '' : decodeURIComponent(url.slice(hash + 1));
    const exact = this.resources.get(url);
    if (exact !== undefined && !frag.startsWith('/')) return this.wrap(exact, docUri);
    const doc = this.resources.get(docUri);
    if (doc === undefined) {
      throw new SchemaCompileError(`remote or unknown $ref ${JSON.stringify(ref)} is not supported`, '$ref', from.path);
    }
    if (frag === '') return this.wrap(doc, docUri);
    if (!frag.startsWith('/')) {
      throw new SchemaCompileError(`$ref anchor ${JSON.stringify(ref)} not found`, '$ref', from.path);
    }
    let cur: unknown = doc;
    for (const raw of frag.slice(1).split('/')) {
      const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
      else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, part)) cur = cur[part];
      else throw new SchemaCompileError(`$ref ${JSON.stringify(ref)} points to nothing`, '$ref', from.path);
    }
    return this.wrap(cur, docUri);
  }

  private wrap(schema: unknown, fallbackBase: string): SchemaAt {
    const path = (isObject(schema) && this.paths.get(schema)) || '#';
    return { schema, base: this.baseOf(schema, fallbackBase), path };
  }
}

function escapePtr(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
