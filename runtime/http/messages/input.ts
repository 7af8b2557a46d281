/**
 * Anthropic Messages request → the chat layer: system + content blocks → chat messages, tools with
 * input_schema → tool definitions, tool_choice / thinking → turn options.
 *
 *   user: text blocks → a user message; tool_result blocks → tool messages (before the text)
 *   assistant: thinking → reasoning_content, text → content, tool_use → tool calls
 * Image, document and server-tool blocks are refused naming their type.
 */
import { mediaKind, type ChatMessage, type ToolDefinition } from '../../../engine/tokens/messages.js';
import type { ToolChoice } from '../../chat/types.js';
import { badRequest } from '../errors.js';

type Obj = Record<string, unknown>;

/** The request fields the mapping reads. */
export interface MessagesInput {
  messages: { role: 'user' | 'assistant'; content: string | Obj[] }[];
  system?: string | { type: 'text'; text: string }[];
  tools?: { type?: string; name: string; description?: string; input_schema?: Obj }[];
  tool_choice?: { type: 'auto' | 'any' | 'tool' | 'none'; name?: string; disable_parallel_tool_use?: boolean };
  thinking?: { type: 'enabled' | 'disabled' | 'adaptive'; budget_tokens?: number };
}

/** 400 `unsupported_content` for an image / video / audio block at `field`. */
const unsupportedBlock = (type: unknown, field: string) =>
  badRequest(`'${field}': ${mediaKind(type)} content (block of type '${String(type)}') is not supported: the model takes text only`, `${field}.type`, 'unsupported_content');

function textOf(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw badRequest(`'${field}' must be a string or an array of text blocks`, field);
  return content.map((b: Obj, j) => {
    if (mediaKind(b?.type)) throw unsupportedBlock(b.type, `${field}[${j}]`);
    if (b?.type !== 'text' || typeof b.text !== 'string') throw badRequest(`'${field}[${j}]': only text blocks are supported here (got '${String(b?.type)}')`, `${field}[${j}].type`);
    return b.text;
  }).join('');
}

/** Chat messages of a request: the system prompt first, then the mapped turns. */
export function chatMessagesOf(b: MessagesInput): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = b.system === undefined ? '' : textOf(b.system, 'system');
  if (system !== '') out.push({ role: 'system', content: system });
  b.messages.forEach((m, i) => {
    const f = `messages[${i}]`;
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content });
      return;
    }
    if (m.role === 'user') {
      let text = '';
      let hasText = false;
      m.content.forEach((blk, j) => {
        const g = `${f}.content[${j}]`;
        if (blk.type === 'text') {
          if (typeof blk.text !== 'string') throw badRequest(`'${g}.text' must be a string`, `${g}.text`);
          text += (hasText ? '\n' : '') + blk.text;
          hasText = true;
        } else if (blk.type === 'tool_result') {
          if (typeof blk.tool_use_id !== 'string' || blk.tool_use_id === '') throw badRequest(`'${g}.tool_use_id' is required for a tool_result block`, `${g}.tool_use_id`);
          const content = blk.content === undefined ? '' : textOf(blk.content, `${g}.content`);
          out.push({ role: 'tool', tool_call_id: blk.tool_use_id, content: blk.is_error === true ? `Error: ${content}` : content });
        } else if (mediaKind(blk.type)) throw unsupportedBlock(blk.type, g);
        else throw badRequest(`'${g}': ${String(blk.type)} blocks are not supported in user messages (text, tool_result)`, `${g}.type`);
      });
      if (hasText) out.push({ role: 'user', content: text });
      return;
    }
    const msg: ChatMessage = { role: 'assistant', content: '' };
    m.content.forEach((blk, j) => {
      const g = `${f}.content[${j}]`;
      if (blk.type === 'text') {
        if (typeof blk.text !== 'string') throw badRequest(`'${g}.text' must be a string`, `${g}.text`);
        msg.content += blk.text;
      } else if (blk.type === 'thinking') {
        if (typeof blk.thinking !== 'string') throw badRequest(`'${g}.thinking' must be a string`, `${g}.thinking`);
        msg.reasoning_content = (msg.reasoning_content ?? '') + blk.thinking;
      } else if (blk.type === 'redacted_thinking') {
        /* opaque to this server: dropped */
      } else if (blk.type === 'tool_use') {
        if (typeof blk.id !== 'string' || blk.id === '') throw badRequest(`'${g}.id' is required for a tool_use block`, `${g}.id`);
        if (typeof blk.name !== 'string' || blk.name === '') throw badRequest(`'${g}.name' is required for a tool_use block`, `${g}.name`);
        if (blk.input === null || typeof blk.input !== 'object' || Array.isArray(blk.input)) throw badRequest(`'${g}.input' must be an object`, `${g}.input`);
        (msg.tool_calls ??= []).push({ id: blk.id, type: 'function', function: { name: blk.name, arguments: JSON.stringify(blk.input) } });
      } else throw badRequest(`'${g}': ${String(blk.type)} blocks are not supported in assistant messages (text, thinking, tool_use)`, `${g}.type`);
    });
    if (msg.content === '' && msg.tool_calls) msg.content = null;
    out.push(msg);
  });
  if (out.at(-1)?.role === 'assistant') throw badRequest('the last message is from the assistant: prefilling an assistant answer is not supported; end with a user message', `messages[${b.messages.length - 1}].role`);
  return out;
}

/** Tools with input_schema → tool definitions (server tools refused by type). */
export function toolsOf(tools: MessagesInput['tools']): ToolDefinition[] {
  return (tools ?? []).map((t, i) => {
    if (t.type !== undefined && t.type !== 'custom') throw badRequest(`'tools[${i}]': the server tool '${t.type}' is not available on this server; declare a custom tool (name, input_schema)`, `tools[${i}].type`);
    if (!/^[a-zA-Z0-9_.:-]{1,64}$/.test(t.name)) throw badRequest(`'tools[${i}].name' must be 1..64 letters, digits, _ . : -`, `tools[${i}].name`);
    if (t.input_schema === undefined) throw badRequest(`'tools[${i}].input_schema' is required`, `tools[${i}].input_schema`);
    const fn: ToolDefinition['function'] = { name: t.name, parameters: t.input_schema };
    if (t.description !== undefined) fn.description = t.description;
    return { type: 'function', function: fn };
  });
}

/** tool_choice → the chat layer's choice and parallel switch. */
export function toolChoiceOf(c: MessagesInput['tool_choice']): { toolChoice?: ToolChoice; parallelToolCalls?: boolean } {
  if (!c) return {};
  const parallelToolCalls = c.disable_parallel_tool_use === true ? false : undefined;
  if (c.type === 'tool') {
    if (!c.name) throw badRequest("'tool_choice.name' is required when type is 'tool'", 'tool_choice.name');
    return { toolChoice: { type: 'function', function: { name: c.name } }, parallelToolCalls };
  }
  return { toolChoice: c.type === 'any' ? 'required' : c.type, parallelToolCalls };
}

/** thinking → the turn's switch: on when enabled (or adaptive), off otherwise (Anthropic's default). */
export const thinkingOf = (t: MessagesInput['thinking']): boolean => t?.type === 'enabled' || t?.type === 'adaptive';
