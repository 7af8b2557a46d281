/**
 * The assistant-turn core: run turns on sessions (ChatRunner), serve stateless chat completions
 * with prefix reuse (ChatService), and read the conversation a session holds.
 */
export { ChatRunner, type ChatSessionOptions } from './runner.js';
export { ChatService, type ChatServiceOptions, type CompletionRequest, type ConversationPoint, type Placement } from './chat-service.js';
export { collectTurn, runTurn, type TurnDeps } from './turn.js';
export { chatMessagesOf, conversationOf, groupStartOf, type ChatGroup, type ChatSpanMeta, type SessionConversation } from './conversation.js';
export { TurnDecoder, StopFilter, type DecodedTurn, type TurnDecoderOptions } from './decoder.js';
export { ChatRequestError, ContextOverflowError } from './errors.js';
export { SessionLocks } from './session-locks.js';
export type { AppendReport, ResponseFormat, ToolChoice, TurnEvent, TurnFinish, TurnOptions, TurnResult, TurnSampling, TurnUsage } from './types.js';
