/**
 * Request-body validation with ajv: a schema per route, compiled once. A failure becomes a 400
 * whose message and `param` name the offending field in OpenAI's dotted form (`messages[0].role`).
 */
import _Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { MAX_JSON_DEPTH, jsonTextDepth } from '../../engine/util/json-depth.js';
import { badRequest, HttpError } from './errors.js';

type AjvCtor = new (o: object) => { compile(s: object): ValidateFunction };
const Ajv = ((_Ajv as unknown as { default?: AjvCtor }).default ?? _Ajv) as unknown as AjvCtor;
const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, coerceTypes: false });

/** `/messages/0/role` → `messages[0].role`. */
export function paramOf(instancePath: string, extra?: string): string | null {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? null : out;
}

/** One readable sentence for the first ajv error. */
export function describeError(err: ErrorObject): { message: string; param: string | null } {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required': {
      const param = paramOf(err.instancePath, String(p.missingProperty));
      return { message: `'${param}' is required`, param };
    }
    case 'additionalProperties': {
      const param = paramOf(err.instancePath, String(p.additionalProperty));
      return { message: `unrecognized field '${param}'`, param };
    }
    default: {
      const param = paramOf(err.instancePath);
      const what = param === null ? 'the request body' : `'${param}'`;
      if (err.keyword === 'type') return { message: `${what} must be of type ${String(p.type).replace(/,/g, ' or ')}`, param };
      if (err.keyword === 'enum') return { message: `${what} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`, param };
      if (err.keyword === 'const') return { message: `${what} must be ${JSON.stringify(p.allowedValue)}`, param };
      return { message: `${what} ${err.message ?? 'is invalid'}`, param };
    }
  }
}

/** A compiled validator: `check(body)` returns the body typed as T or throws a 400 HttpError. */
export function validator<T>(schema: object): (body: unknown) => T {
  const v = ajv.compile(schema);
  return (body) => {
    if (v(body)) return body as T;
    const { message, param } = describeError(v.errors![0]!);
    throw badRequest(message, param);
  };
}

/** Refuses JSON text nesting deeper than MAX_JSON_DEPTH (400 `json_too_deep`) before it is parsed, so no walker downstream meets it. */
export function checkJsonDepth(text: string): void {
  const depth = jsonTextDepth(text);
  if (depth > MAX_JSON_DEPTH) throw badRequest(`the request body nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are allowed`, null, 'json_too_deep');
}

/** Parses a request body as JSON; a malformed body is a 400, so is an empty one unless `empty` is given (returned instead); so is one nested too deep. */
export async function readJson(req: Request, empty?: unknown): Promise<unknown> {
  let text: string;
  try {
    text = await req.text();
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw badRequest(`could not read the request body: ${(e as Error).message}`);
  }
  if (text.trim() === '' && empty !== undefined) return empty;
  if (text.trim() === '') throw badRequest('the request body is empty; expected a JSON object');
  checkJsonDepth(text);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}
