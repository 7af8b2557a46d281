/**
 * Responses API request → the chat layer: input items → chat messages, function tools → tool
 * definitions, tool_choice / text.format / reasoning → turn options. Everything the chat layer
 * cannot express is refused with a 400 naming the field.
 *
 * Item mapping (in order; consecutive items fold into one assistant message):
 *   message {role, content: string | parts}   → a chat message (input_text / output_text parts → text)
 *   reasoning {content | summary}              → reasoning_content of the next assistant message
 *   function_call {call_id, name, arguments}   → a tool call of the current assistant message
 *   function_call_output {call_id, output}     → a tool message
 */
import { mediaKind, type ChatMessage, type ToolDefinition } from '../../../engine/tokens/messages.js';
import type { ResponseFormat, ToolChoice } from '../../chat/types.js';
import { badRequest } from '../errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Built-in tools of the OpenAI platform that this server does not run. */
const BUILT_IN = /^(web_search|web_search_preview|file_search|computer_use|computer_use_preview|code_interpreter|image_generation|mcp|local_shell|shell|apply_patch|custom)/;

/** Text of a content field: a string, or the text of its text parts (other part types are refused). */
function partsText(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw badRequest(`'${field}' must be a string or an array of content parts`, field);
  let out = '';
  content.forEach((p, j) => {
    const f = `${field}[${j}]`;
    if (!isObj(p)) throw badRequest(`'${f}' must be an object`, f);
    if (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text' || p.type === 'summary_text' || p.type === 'reasoning_text') {
      if (typeof p.text !== 'string') throw badRequest(`'${f}.text' must be a string`, `${f}.text`);
      out += p.text;
    } else if (p.type === 'refusal' && typeof p.refusal === 'string') out += p.refusal;
    else if (mediaKind(p.type)) throw badRequest(`'${f}': ${mediaKind(p.type)} content (part of type '${String(p.type)}') is not supported: the model takes text only`, `${f}.type`, 'unsupported_content');
    else throw badRequest(`'${f}': content parts of type '${String(p.type)}' are not supported (text only)`, `${f}.type`);
  });
  return out;
}

/** Maps `input` to chat messages; `prior` is the message the conversation ends with (for folding). */
export function inputMessages(input: string | unknown[]): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const out: ChatMessage[] = [];
  let reasoning: string | undefined;
  /** The assistant message function calls fold into (the last message, when it is one made here). */
  let assistant: ChatMessage | undefined;
  input.forEach((item, i) => {
    const f = `input[${i}]`;
    if (!isObj(item)) throw badRequest(`'${f}' must be an object`, f);
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role;
      if (role !== 'user' && role !== 'system' && role !== 'developer' && role !== 'assistant') throw badRequest(`'${f}.role' must be one of "user", "system", "developer", "assistant"`, `${f}.role`);
      const text = partsText(item.content, `${f}.content`);
      const m: ChatMessage = { role, content: text };
      if (role === 'assistant' && reasoning !== undefined) m.reasoning_content = reasoning;
      if (role === 'assistant') reasoning = undefined;
      out.push(m);
      assistant = role === 'assistant' ? m : undefined;
    } else if (type === 'reasoning') {
      const text = item.content !== undefined && item.content !== null ? partsText(item.content, `${f}.content`) : Array.isArray(item.summary) ? partsText(item.summary, `${f}.summary`) : '';
      reasoning = (reasoning ?? '') + text;
      assistant = undefined;
    } else if (type === 'function_call') {
      if (typeof item.call_id !== 'string' || item.call_id === '') throw badRequest(`'${f}.call_id' is required for a function_call item`, `${f}.call_id`);
      if (typeof item.name !== 'string' || item.name === '') throw badRequest(`'${f}.name' is required for a function_call item`, `${f}.name`);
      if (typeof item.arguments !== 'string') throw badRequest(`'${f}.arguments' must be a JSON string`, `${f}.arguments`);
      if (!assistant) {
        assistant = { role: 'assistant', content: null };
        if (reasoning !== undefined) assistant.reasoning_content = reasoning;
        reasoning = undefined;
        out.push(assistant);
      }
      (assistant.tool_calls ??= []).push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
    } else if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string' || item.call_id === '') throw badRequest(`'${f}.call_id' is required for a function_call_output item`, `${f}.call_id`);
      out.push({ role: 'tool', tool_call_id: item.call_id, content: partsText(item.output, `${f}.output`) });
      assistant = undefined;
    } else if (type === 'item_reference') {
      throw badRequest(`'${f}': item_reference '${String(item.id)}' names no stored item; send the item itself, or continue with previous_response_id`, `${f}.id`);
    } else {
      throw badRequest(`'${f}': input items of type '${String(type)}' are not supported (message, reasoning, function_call, function_call_output)`, `${f}.type`);
    }
  });
  return out;
}

/** Replaces each item_reference whose id `lookup` knows by the item it names (unknown ones stay, to be refused with their index). */
export function resolveReferences(input: string | unknown[], lookup: (id: string) => Record<string, unknown> | undefined): string | unknown[] {
  if (typeof input === 'string') return input;
  return input.map((it) => (isObj(it) && it.type === 'item_reference' && typeof it.id === 'string' ? lookup(it.id) ?? it : it));
}

/**
 * Puts `instructions` first as the system message, merged with leading system/developer input
 * messages (a template accepts one system message, at the start).
 */
export function withInstructions(instructions: string | null | undefined, messages: ChatMessage[]): ChatMessage[] {
  let k = 0;
  const texts = instructions ? [instructions] : [];
  while (k < messages.length && (messages[k]!.role === 'system' || messages[k]!.role === 'developer')) texts.push(String(messages[k++]!.content ?? ''));
  if (texts.length === 0) return messages;
  return [{ role: 'system', content: texts.join('\n\n') }, ...messages.slice(k)];
}

/** Function tools → tool definitions; built-in tools are refused by name. */
export function toolsOf(tools: unknown[] | undefined | null): ToolDefinition[] {
  return (tools ?? []).map((t, i) => {
    const f = `tools[${i}]`;
    if (!isObj(t)) throw badRequest(`'${f}' must be an object`, f);
    const type = String(t.type);
    if (type !== 'function') {
      const why = BUILT_IN.test(type) ? `the built-in tool '${type}' is not available on this server (it runs no hosted tools); declare a function tool and run it yourself` : `tools of type '${type}' are not supported (function only)`;
      throw badRequest(why, `${f}.type`);
    }
    if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_.:-]{1,64}$/.test(t.name)) throw badRequest(`'${f}.name' must be 1..64 letters, digits, _ . : -`, `${f}.name`);
    if (t.parameters !== undefined && t.parameters !== null && !isObj(t.parameters)) throw badRequest(`'${f}.parameters' must be a JSON Schema object`, `${f}.parameters`);
    const fn: ToolDefinition['function'] = { name: t.name, parameters: (t.parameters as Record<string, unknown> | undefined) ?? { type: 'object', properties: {} } };
    if (typeof t.description === 'string') fn.description = t.description;
    return { type: 'function', function: fn };
  });
}

/** Responses tool_choice → the chat layer's. */
export function toolChoiceOf(v: unknown): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'auto' || v === 'none' || v === 'required') return v;
  if (isObj(v) && v.type === 'function' && typeof v.name === 'string' && v.name !== '') return { type: 'function', function: { name: v.name } };
  if (isObj(v) && typeof v.type === 'string' && v.type !== 'function') throw badRequest(`'tool_choice' of type '${v.type}' is not supported ("auto", "none", "required" or {"type": "function", "name": …})`, 'tool_choice');
  throw badRequest(`'tool_choice' must be "auto", "none", "required" or {"type": "function", "name": "<tool name>"}`, 'tool_choice');
}

/** text.format → a response format. */
export function formatOf(text: unknown): ResponseFormat | undefined {
  if (text === undefined || text === null) return undefined;
  if (!isObj(text)) throw badRequest("'text' must be an object", 'text');
  const f = text.format;
  if (f === undefined || f === null) return undefined;
  if (!isObj(f)) throw badRequest("'text.format' must be an object", 'text.format');
  if (f.type === 'text') return { type: 'text' };
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    if (typeof f.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name)) throw badRequest("'text.format.name' must be 1..64 letters, digits, _ -", 'text.format.name');
    if (!isObj(f.schema)) throw badRequest("'text.format.schema' is required (a JSON Schema object)", 'text.format.schema');
    return { type: 'json_schema', json_schema: { name: f.name, schema: f.schema } };
  }
  throw badRequest(`'text.format.type' must be "text", "json_object" or "json_schema"`, 'text.format.type');
}
