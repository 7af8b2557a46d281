/**
 * The backstop: every constrained output is parsed and re-validated with ajv before it leaves
 * the runtime. Counters are process-wide so the runtime can report them (e.g. in /metrics).
 */
import { ajvValidator } from './ajv-check.js';

/** Result of `validateOutput`. */
export type OutputCheck = { ok: true; value: unknown } | { ok: false; error: string };

/** Process-wide counters of `validateOutput` calls. */
export const outputValidation = { checked: 0, passed: 0, failed: 0 };

/**
 * Parses `text` as JSON and validates it against `schema` with ajv (formats included).
 * Never throws for bad input; counts every call in `outputValidation`.
 */
export function validateOutput(schema: unknown, text: string): OutputCheck {
  outputValidation.checked++;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    outputValidation.failed++;
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  let validate;
  try {
    validate = ajvValidator(schema);
  } catch (e) {
    outputValidation.failed++;
    return { ok: false, error: `schema not usable by ajv: ${(e as Error).message}` };
  }
  if (validate(value)) {
    outputValidation.passed++;
    return { ok: true, value };
  }
  outputValidation.failed++;
  const err = validate.errors?.[0];
  return { ok: false, error: err ? `${err.instancePath || '/'} ${err.message}` : 'invalid' };
}
