/** Named errors of the tokens layer (tokenizer, chat templates, append protocol, messages). */
import { EngineError } from '../errors.js';

/** A tokenizer folder cannot be loaded, or an id/option is invalid for this tokenizer. */
export class TokenizerError extends EngineError {
  override name = 'TokenizerError';
  override code = 'tokenizer_error';
  override status = 400;
}

/** A chat template is missing, does not parse, or fails while rendering. */
export class ChatTemplateError extends EngineError {
  override name = 'ChatTemplateError';
  override code = 'template_error';
  override status = 400;
  override param: string | null = 'messages';
}

/** A chat message is malformed (unknown role, missing content, non-text content part, ...). */
export class MessageFormatError extends EngineError {
  override name = 'MessageFormatError';
  override code = 'invalid_message';
  override status = 400;
  override param: string | null = 'messages';
  constructor(message: string, readonly index?: number) {
    super(message);
  }
}

/** A message carries image, video or audio content: the engine runs text-only models, so such parts are refused. */
export class UnsupportedContentError extends MessageFormatError {
  override name = 'UnsupportedContentError';
  override code = 'unsupported_content';
  override status = 400;
  override param: string | null = 'messages';
  constructor(message: string, index: number | undefined, readonly partType: string) {
    super(message, index);
  }
}

/**
 * The append-only protocol cannot produce an append for this request: the template would
 * rewrite text already in the KV history (e.g. merge a tool result into a closed tool turn),
 * or its framing of new messages cannot be isolated.
 */
export class AppendProtocolError extends EngineError {
  override name = 'AppendProtocolError';
  override code = 'append_not_possible';
  override status = 400;
  override param: string | null = 'messages';
}

/** A text provably needs more tokens than its budget (the slot's capacity): refused before BPE runs. */
export class TokenBudgetError extends EngineError {
  override name = 'TokenBudgetError';
  override code = 'context_length_exceeded';
  override status = 400;
  override param: string | null = 'messages';
  constructor(message: string, readonly atLeast: number, readonly budget: number) {
    super(message);
  }
}

/** A streaming parser was used out of order (e.g. push after finish). */
export class ParserStateError extends EngineError {
  override name = 'ParserStateError';
  override code = 'parser_state';
  override status = 500;
}
