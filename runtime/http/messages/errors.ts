/**
 * Anthropic-shaped errors for the Messages API routes: `{"type": "error", "error": {"type", "message"}}`
 * with Anthropic's error types by status. Everything else maps as for the OpenAI routes (errors.ts),
 * then is reshaped here.
 */

/** The Messages API routes (errors there take Anthropic's shape). */
export const isAnthropicPath = (path: string): boolean => path === '/v1/messages' || path.startsWith('/v1/messages/');

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503: case 529: return 'overloaded_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** The error body Anthropic clients parse. */
export const anthropicErrorBody = (status: number, message: string, code?: string | null) => ({
  type: 'error' as const,
  // `code` (ours, as on the OpenAI routes) beside Anthropic's fields, when the error has one
  error: { type: anthropicErrorType(status), message, ...(code ? { code } : {}) },
});
