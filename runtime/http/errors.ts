/**
 * OpenAI-shaped errors: every failure leaves the server as
 * `{"error": {"message", "type", "param", "code"}}` with a fitting status. Named errors of the
 * lower floors map to statuses here; anything unknown is a 500 `server_error`.
 */
import { EngineArgumentError, KvCapacityError } from '../../engine/errors.js';
import { SchedulerAbortError } from '../../engine/scheduler.js';
import { AppendProtocolError, ChatTemplateError, MessageFormatError, TokenBudgetError, UnsupportedContentError } from '../../engine/tokens/errors.js';
import { ResidencyError, SessionAbortedError, SessionArgumentError, SessionNotFoundError, StoreClosedError } from '../../sessions/errors.js';
import { ChatRequestError } from '../chat/errors.js';

export type OpenAIErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'rate_limit_error';

/** The body of an error response. */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

/** An error with its HTTP status and OpenAI fields, thrown by handlers. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAIErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** 400 with the offending field. */
export const badRequest = (message: string, param: string | null = null, code: string | null = null) => new HttpError(400, message, 'invalid_request_error', param, code);

/** Maps any thrown value to a status and body. */
export function toErrorResponse(e: unknown): { status: number; body: OpenAIErrorBody } {
  const body = (status: number, message: string, type: OpenAIErrorType, param: string | null = null, code: string | null = null) => ({
    status,
    body: { error: { message, type, param, code } },
  });
  if (e instanceof HttpError) return body(e.status, e.message, e.type, e.param, e.code);
  if (e instanceof ChatRequestError) return body(400, e.message, 'invalid_request_error', e.param, e.code);
  if (e instanceof SessionNotFoundError) return body(404, e.message, 'not_found_error', 'session_id', 'session_not_found');
  if (e instanceof UnsupportedContentError) return body(400, e.message, 'invalid_request_error', 'messages', 'unsupported_content');
  if (e instanceof SessionArgumentError || e instanceof MessageFormatError || e instanceof AppendProtocolError || e instanceof EngineArgumentError) {
    return body(400, e.message, 'invalid_request_error', e instanceof MessageFormatError || e instanceof AppendProtocolError ? 'messages' : null);
  }
  if (e instanceof TokenBudgetError) return body(400, `the context holds ${e.budget} tokens; ${e.message}`, 'invalid_request_error', 'messages', 'context_length_exceeded');
  if (e instanceof KvCapacityError) return body(400, e.message, 'invalid_request_error', 'messages', 'context_length_exceeded');
  if (e instanceof ChatTemplateError) return body(400, `the chat template cannot render this request: ${e.message}`, 'invalid_request_error', 'messages');
  if (e instanceof ResidencyError) return body(503, `no KV slot is available: ${e.message}`, 'server_error', null, 'overloaded');
  if (e instanceof StoreClosedError) return body(503, 'the server is shutting down', 'server_error', null, 'shutting_down');
  if (e instanceof SessionAbortedError || e instanceof SchedulerAbortError) return body(499, 'the request was cancelled', 'invalid_request_error', null, 'cancelled');
  const err = e as Error;
  return body(500, `internal error: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`, 'server_error');
}
