/** OpenAI-style chat messages and their normalisation into what chat templates expect. */
import { MessageFormatError, UnsupportedContentError } from './errors.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../util/json-depth.js';

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

/** A content part; only text parts can be rendered by the supported templates. */
export interface ContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A tool call as the OpenAI API carries it: `arguments` is a JSON string (or an already-parsed object). */
export interface ChatToolCall {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: string | Record<string, unknown> };
}

/** One chat message (OpenAI chat-completions shape). */
export interface ChatMessage {
  role: ChatRole;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  reasoning_content?: string | null;
}

/** A tool definition as passed to templates (`{type:'function', function:{name, description, parameters}}`). */
export interface ToolDefinition {
  type?: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** A message in the shape templates consume: string content, `developer` mapped to `system`, tool-call arguments parsed. */
export interface TemplateMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  name?: string;
  tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: Record<string, unknown> | string } }[];
  tool_call_id?: string;
  reasoning_content?: string;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** Content part / block types of images, video and audio (OpenAI chat and Responses, Anthropic and Qwen names); group 1 is the medium. */
const MEDIA_PART = /^(?:input_)?(image|video|audio)(?:_url)?$/;

/** The medium of a content part or block type ('image', 'video', 'audio'), or undefined for other types. */
export function mediaKind(type: unknown): string | undefined {
  return MEDIA_PART.exec(String(type))?.[1];
}

/** Text of a message's content: a string, the concatenation of its text parts, or '' for null/absent. Media parts are an UnsupportedContentError. */
export function contentText(content: ChatMessage['content'], index?: number): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new MessageFormatError(`message ${index ?? '?'}: content must be a string or an array of parts`, index);
  let out = '';
  for (const part of content) {
    const media = mediaKind(part?.type);
    if (media) {
      throw new UnsupportedContentError(`message ${index ?? '?'}: ${media} content (part of type '${part!.type}') is not supported: the model takes text only`, index, part!.type);
    }
    if (part?.type !== 'text' || typeof part.text !== 'string') {
      throw new MessageFormatError(`message ${index ?? '?'}: content part of type '${String(part?.type)}' is not supported (text only)`, index);
    }
    out += part.text;
  }
  return out;
}

/** Parses tool-call arguments given as a JSON string (deeper than MAX_JSON_DEPTH: MessageFormatError) into an object (as templates expect); leaves non-JSON strings as they are. */
export function parseArguments(args: string | Record<string, unknown> | undefined | null): Record<string, unknown> | string {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'string') return args;
  if (args.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    return args;
  }
  if (jsonDepthExceeds(v)) throw new MessageFormatError(`tool-call arguments nest deeper than ${MAX_JSON_DEPTH} levels`);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : args;
}

/** Validates one message and converts it to the template shape. Throws MessageFormatError on bad input. */
export function toTemplateMessage(m: ChatMessage, index = 0): TemplateMessage {
  if (m === null || typeof m !== 'object') throw new MessageFormatError(`message ${index} is not an object`, index);
  if (!ROLES.has(m.role)) throw new MessageFormatError(`message ${index}: unknown role '${String(m.role)}'`, index);
  const role = m.role === 'developer' ? 'system' : m.role;
  const out: TemplateMessage = { role, content: contentText(m.content, index) };
  if (m.name !== undefined) out.name = m.name;
  if (role === 'tool' && m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  if (role === 'assistant') {
    if (typeof m.reasoning_content === 'string') out.reasoning_content = m.reasoning_content;
    if (m.tool_calls !== undefined) {
      if (!Array.isArray(m.tool_calls)) throw new MessageFormatError(`message ${index}: tool_calls must be an array`, index);
      out.tool_calls = m.tool_calls.map((c, j) => {
        const name = c?.function?.name;
        if (typeof name !== 'string' || name === '') throw new MessageFormatError(`message ${index}: tool_calls[${j}] has no function name`, index);
        const call: NonNullable<TemplateMessage['tool_calls']>[number] = { type: 'function', function: { name, arguments: parseArguments(c.function.arguments) } };
        if (c.id !== undefined) call.id = c.id;
        return call;
      });
      if (out.tool_calls.length === 0) delete out.tool_calls;
    }
  }
  return out;
}

/** Validates and converts a message list. */
export function toTemplateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  if (!Array.isArray(messages)) throw new MessageFormatError('messages must be an array');
  return messages.map((m, i) => toTemplateMessage(m, i));
}

/** Splits assistant text into reasoning (inside `<think>…</think>`) and the content after it, the way Qwen templates do. */
export function splitReasoning(text: string): { reasoning: string; content: string } {
  const end = text.indexOf('</think>');
  if (end < 0) return { reasoning: '', content: text };
  const before = text.slice(0, end);
  const start = before.indexOf('<think>');
  const reasoning = (start >= 0 ? before.slice(start + '<think>'.length) : before).replace(/^\n+|\n+$/g, '');
  return { reasoning, content: text.slice(end + '</think>'.length).replace(/^\n+/, '') };
}
