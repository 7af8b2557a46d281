/** Argument validation against a tool's JSON Schema with ajv + ajv-formats (draft-07 or 2020-12/2019-09). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsNs from 'ajv-formats';
import type { JsonSchema } from './tool.js';

const addFormats = addFormatsNs.default;

type AnyAjv = Ajv | Ajv2019 | Ajv2020;

/** Result of checking arguments: `ok`, or a one-line description of every violation. */
export type ValidationResult = { ok: true } | { ok: false; message: string };

/** Compiles and caches validators per schema object. A schema ajv cannot compile yields a warning, not a throw. */
export class SchemaValidator {
  private readonly engines = new Map<string, AnyAjv>();
  private readonly cache = new WeakMap<object, ValidateFunction | Error>();

  private engine(schema: JsonSchema): AnyAjv {
    const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
    const kind = dialect.includes('2020-12') ? '2020' : dialect.includes('2019-09') ? '2019' : '07';
    let ajv = this.engines.get(kind);
    if (!ajv) {
      const opts = { strict: false, allErrors: true, validateSchema: true } as const;
      ajv = kind === '2020' ? new Ajv2020(opts) : kind === '2019' ? new Ajv2019(opts) : new Ajv(opts);
      addFormats(ajv);
      this.engines.set(kind, ajv);
    }
    return ajv;
  }

  /** Compiles `schema` (cached); returns the compile error instead of throwing. */
  compile(schema: JsonSchema): ValidateFunction | Error {
    const hit = this.cache.get(schema);
    if (hit) return hit;
    let out: ValidateFunction | Error;
    try {
      // Strip $id so two tools with the same $id do not clash inside one ajv instance.
      const { $id: _ignored, ...rest } = schema;
      out = this.engine(schema).compile(rest);
    } catch (err) {
      out = err instanceof Error ? err : new Error(String(err));
    }
    this.cache.set(schema, out);
    return out;
  }

  /** Validates `value`; an uncompilable schema passes (the tool itself is the last check). */
  validate(schema: JsonSchema, value: unknown): ValidationResult {
    const fn = this.compile(schema);
    if (fn instanceof Error) return { ok: true };
    if (fn(value)) return { ok: true };
    return { ok: false, message: formatAjvErrors(fn.errors ?? []) };
  }
}

/** `"/path: message"` per error, joined by `; `; additionalProperties and enum name the offender. */
export function formatAjvErrors(errors: readonly ErrorObject[]): string {
  const parts = errors.slice(0, 8).map((e) => {
    const at = e.instancePath === '' ? '(root)' : e.instancePath;
    let msg = e.message ?? 'is invalid';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') msg += ` '${String(p.additionalProperty)}'`;
    if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) {
      msg += `: ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return `${at}: ${msg}`;
  });
  if (errors.length > 8) parts.push(`(${errors.length - 8} more)`);
  return parts.join('; ');
}
