/**
 * The root of every named error of the project. Each class states, at its definition, a stable
 * machine-readable `code` (listed in docs/apis.md) and the HTTP `status` it answers with when it
 * reaches the edge; `param` names the request field it is about when known. The HTTP edge maps
 * every error through these fields alone (runtime/http/errors.ts); anything that is not a
 * ResidentError is a 500 `internal_error`.
 */
export class ResidentError extends Error {
  /** Stable code, e.g. `context_length_exceeded`. */
  code = 'internal_error';
  /** HTTP status class when it leaves the server. */
  status = 500;
  /** The request field it is about, or null. */
  param: string | null = null;
}

/** A broken internal invariant (a turn that ended without its finish event…): a bug, answered 500 `internal_error`. */
export class InvariantError extends ResidentError {
  override name = 'InvariantError';
  override code = 'internal_error';
  override status = 500;
}
