/** Named errors of the grammar layer (schema compiler, regex compiler, matcher). */
import { ResidentError } from '../util/resident-error.js';

/** Base class of grammar errors. */
export class GrammarError extends ResidentError {
  override name = 'GrammarError';
  override code = 'invalid_grammar';
  override status = 400;
}

/**
 * A JSON Schema the compiler refuses: invalid schema, remote `$ref`, or a keyword it cannot honor.
 * `keyword` names the keyword (e.g. `'uniqueItems'`, `'$ref'`, `'schema'` for an invalid schema);
 * `path` is the JSON pointer of the subschema inside the root schema (e.g. `'#/properties/a'`).
 */
export class SchemaCompileError extends GrammarError {
  override name = 'SchemaCompileError';
  override code = 'invalid_schema';
  override status = 400;
  override param: string | null = 'response_format';
  constructor(message: string, readonly keyword: string, readonly path: string) {
    super(`${message} (keyword '${keyword}' at ${path})`);
  }
}

/** A regular expression (`pattern`, `patternProperties`, format) outside the supported ECMA-262 subset. */
export class RegexCompileError extends GrammarError {
  override name = 'RegexCompileError';
  override code = 'unsupported_pattern';
  override status = 400;
  override param: string | null = 'response_format';
  constructor(message: string, readonly pattern: string) {
    super(`${message} in pattern ${JSON.stringify(pattern)}`);
  }
}

/** A token the matcher does not allow in its current state was accepted, or a bad rollback. */
export class GrammarStateError extends GrammarError {
  override name = 'GrammarStateError';
  override code = 'grammar_state';
  override status = 500;
}
