/** Named errors of the chat layer. Each carries the request field it is about (for OpenAI-shaped 4xx answers). */
import { ResidentError } from '../../engine/util/resident-error.js';

/** A request the chat layer refuses: unknown tool, bad schema, bad message order… (HTTP 400). */
export class ChatRequestError extends ResidentError {
  override name = 'ChatRequestError';
  override status = 400;
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(message);
    this.param = param;
    this.code = code ?? 'invalid_request';
  }
}

/** Prompt plus completion budget do not fit in the session's KV slot (HTTP 400, code context_length_exceeded). */
export class ContextOverflowError extends ChatRequestError {
  override name = 'ContextOverflowError';
  constructor(message: string, readonly capacity: number, readonly requested: number, param: string | null = 'messages') {
    super(message, param, 'context_length_exceeded');
  }
}
