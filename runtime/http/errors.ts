/**
 * OpenAI-shaped errors: every failure leaves the server as
 * `{"error": {"message", "type", "param", "code"}}` with the status its class states
 * (engine/util/resident-error.ts); anything unknown is a 500 `internal_error`.
 */
import { ResidentError } from '../../engine/util/resident-error.js';
import { storageErrorOf } from '../../sessions/errors.js';

export type OpenAIErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'rate_limit_error';

/** The body of an error response. */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

/** An error raised at the edge itself, with its HTTP status and OpenAI fields. */
export class HttpError extends ResidentError {
  override name = 'HttpError';
  readonly type: OpenAIErrorType;
  constructor(status: number, message: string, type: OpenAIErrorType = typeOf(status), param: string | null = null, code: string | null = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code ?? (status >= 500 ? 'internal_error' : 'invalid_request');
  }
}

/** 400 with the offending field. */
export const badRequest = (message: string, param: string | null = null, code: string | null = null) => new HttpError(400, message, 'invalid_request_error', param, code);

/** The OpenAI error type of a status. */
export function typeOf(status: number): OpenAIErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/**
 * Maps any thrown value to a status and body — the one place errors become HTTP: a ResidentError
 * answers with the status, code and param its class states (and Retry-After where it says when to retry); anything else is a 500 `internal_error`.
 */
export function toErrorResponse(e: unknown): { status: number; body: OpenAIErrorBody; headers?: Record<string, string> } {
  e = storageErrorOf(e) ?? e; // raw file-system errors of a full or read-only disk
  if (e instanceof ResidentError) {
    const type = e instanceof HttpError ? e.type : typeOf(e.status);
    const retry = (e as { retryAfterSeconds?: number }).retryAfterSeconds; // back-pressure (SlotWaitError)
    const headers = retry === undefined ? undefined : { 'retry-after': String(retry) };
    return { status: e.status, body: { error: { message: e.message, type, param: e.param, code: e.code } }, ...(headers ? { headers } : {}) };
  }
  const err = e as Error;
  return { status: 500, body: { error: { message: `internal error: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`, type: 'server_error', param: null, code: 'internal_error' } } };
}
