/**
 * Bad input and security against the in-process server: a table of malformed requests (each a 4xx
 * with an OpenAI-shaped error naming the problem, the server healthy after), API-key enforcement on
 * every route but /health, and the body-size limit.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, WEATHER_TOOLS, type TestServer } from './http-support.js';

const KEY = 'sk-test-0123456789';
const MAX_BODY = 256 * 1024;
let srv: TestServer | undefined;
let sessionId = '';

beforeAll(async () => {
  const s = await startTestServer({ apiKey: KEY, maxBodyBytes: MAX_BODY });
  srv = s;
  const r = await call('POST', '/v1/sessions', { messages: [{ role: 'user', content: 'hello' }] });
  sessionId = (await r.json()).id;
});
afterAll(async () => srv?.close());

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): Promise<Response> {
  const raw = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body).replaceAll('"{model}"', JSON.stringify(srv!.host.modelId));
  return fetch(`${srv!.url}${path.replace('{sid}', sessionId)}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: raw });
}

const user = [{ role: 'user', content: 'hi' }];
const chat = (extra: Record<string, unknown>) => ({ messages: user, max_tokens: 4, ...extra });
const withCall = (args = '{"city": "Paris", "unit": "c"}') => [
  { role: 'user', content: 'weather?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } }] },
];

type Case = [name: string, method: string, path: string, body: unknown, status: number, match: RegExp, param?: string | null];
const C = '/v1/chat/completions';
const S = () => '/v1/sessions/{sid}';
const R = '/v1/responses';
const M = '/v1/messages';
const resp = (extra: Record<string, unknown>) => ({ input: 'hi', max_output_tokens: 4, ...extra });
const msg = (extra: Record<string, unknown>) => ({ model: '{model}', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }], ...extra });
const RTOOL = { type: 'function', name: 'get_weather', parameters: WEATHER_TOOLS[0]!.function.parameters };
const ATOOL = { name: 'get_weather', input_schema: WEATHER_TOOLS[0]!.function.parameters };
const cases: Case[] = [
  ['malformed JSON', 'POST', C, '{"messages": [', 400, /not valid JSON/],
  ['empty body', 'POST', C, '', 400, /body is empty/],
  ['array body', 'POST', C, '[1, 2]', 400, /request body' must be of type object|the request body must be of type object/],
  ['null body', 'POST', C, 'null', 400, /must be of type object/],
  ['no messages', 'POST', C, {}, 400, /'messages' is required/, 'messages'],
  ['messages not an array', 'POST', C, { messages: 'hi' }, 400, /'messages' must be of type array/, 'messages'],
  ['empty messages', 'POST', C, { messages: [] }, 400, /'messages' must NOT have fewer than 1 items/, 'messages'],
  ['message not an object', 'POST', C, { messages: [1] }, 400, /'messages\[0\]' must be of type object/, 'messages[0]'],
  ['message without role', 'POST', C, { messages: [{ content: 'x' }] }, 400, /'messages\[0\].role' is required/, 'messages[0].role'],
  ['unknown role', 'POST', C, { messages: [{ role: 'robot', content: 'x' }] }, 400, /must be one of "system", "developer", "user", "assistant", "tool"/, 'messages[0].role'],
  ['content of wrong type', 'POST', C, { messages: [{ role: 'user', content: 5 }] }, 400, /'messages\[0\].content' must be of type string or array or null/, 'messages[0].content'],
  ['image content part', 'POST', C, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 400, /image content \(part of type 'image_url'\) is not supported/, 'messages[0].content[0].type'],
  ['text part without text', 'POST', C, { messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 400, /text is required/, 'messages[0].content[0].text'],
  ['user content null', 'POST', C, { messages: [{ role: 'user', content: null }] }, 400, /content is required for role 'user'/, 'messages[0].content'],
  ['tool message without tool_call_id', 'POST', C, { messages: [...withCall(), { role: 'tool', content: '1' }], tools: WEATHER_TOOLS }, 400, /tool_call_id is required/, 'messages[2].tool_call_id'],
  ['tool message answering nothing', 'POST', C, { messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'a', content: '1' }] }, 400, /must answer a preceding assistant message with tool_calls/, 'messages[1].role'],
  ['tool message with unknown call id', 'POST', C, { messages: [...withCall(), { role: 'tool', tool_call_id: 'call_9', content: '1' }], tools: WEATHER_TOOLS }, 400, /matches no tool call/, 'messages[2].tool_call_id'],
  ['empty assistant message', 'POST', C, { messages: [{ role: 'user', content: 'x' }, { role: 'assistant' }, { role: 'user', content: 'y' }] }, 400, /needs content or tool_calls/, 'messages[1].content'],
  ['history calls an unknown tool', 'POST', C, { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'launch', arguments: '{}' } }] }], tools: WEATHER_TOOLS }, 400, /unknown tool 'launch'/, 'messages[1].tool_calls[0].function.name'],
  ['tool-call arguments not JSON', 'POST', C, { messages: withCall('{city:'), tools: WEATHER_TOOLS }, 400, /arguments is not valid JSON/, 'messages[1].tool_calls[0].function.arguments'],
  ['tool_calls on a user message', 'POST', C, { messages: [{ role: 'user', content: 'x', tool_calls: [] }] }, 400, /only allowed on assistant messages/, 'messages[0].tool_calls'],
  ['temperature of wrong type', 'POST', C, chat({ temperature: 'hot' }), 400, /'temperature' must be of type number or null/, 'temperature'],
  ['temperature too high', 'POST', C, chat({ temperature: 3 }), 400, /'temperature' must be <= 2/, 'temperature'],
  ['top_p zero', 'POST', C, chat({ top_p: 0 }), 400, /'top_p' must be > 0/, 'top_p'],
  ['max_tokens zero', 'POST', C, chat({ max_tokens: 0 }), 400, /'max_tokens' must be >= 1/, 'max_tokens'],
  ['max_tokens fractional', 'POST', C, chat({ max_tokens: 1.5 }), 400, /'max_tokens' must be of type integer or null/, 'max_tokens'],
  ['max_tokens beyond the context', 'POST', C, chat({ max_tokens: 100000 }), 400, /context holds 2048 tokens.*100000 completion tokens/, 'max_tokens'],
  ['prompt beyond the context', 'POST', C, { messages: [{ role: 'user', content: 'lorem ipsum dolor '.repeat(1200) }] }, 400, /context holds 2048 tokens; the prompt needs \d+/, 'messages'],
  ['n = 2', 'POST', C, chat({ n: 2 }), 400, /'n' must be 1/, 'n'],
  ['stream of wrong type', 'POST', C, chat({ stream: 'yes' }), 400, /'stream' must be of type boolean or null/, 'stream'],
  ['stream_options without stream', 'POST', C, chat({ stream_options: { include_usage: true } }), 400, /only allowed when 'stream' is true/, 'stream_options'],
  ['stop of wrong type', 'POST', C, chat({ stop: 5 }), 400, /'stop' must be of type string or array or null/, 'stop'],
  ['empty stop string', 'POST', C, chat({ stop: [''] }), 400, /'stop\[0\]' must NOT have fewer than 1 characters/, 'stop[0]'],
  ['tools not an array', 'POST', C, chat({ tools: 'x' }), 400, /'tools' must be of type array or null/, 'tools'],
  ['tool without function', 'POST', C, chat({ tools: [{ type: 'function' }] }), 400, /'tools\[0\].function' is required/, 'tools[0].function'],
  ['tool with a bad name', 'POST', C, chat({ tools: [{ type: 'function', function: { name: 'bad name' } }] }), 400, /'tools\[0\].function.name' must match pattern/, 'tools[0].function.name'],
  ['duplicate tool names', 'POST', C, chat({ tools: [WEATHER_TOOLS[0], WEATHER_TOOLS[0]] }), 400, /duplicate tool name 'get_weather'/, 'tools[1].function.name'],
  ['unknown tool_choice string', 'POST', C, chat({ tools: WEATHER_TOOLS, tool_choice: 'sometimes' }), 400, /'tool_choice' must be "none", "auto", "required"/, 'tool_choice'],
  ['tool_choice names an unknown tool', 'POST', C, chat({ tools: WEATHER_TOOLS, tool_choice: { type: 'function', function: { name: 'launch' } } }), 400, /names the function "launch", which is not among the tools/, 'tool_choice'],
  ['tool_choice required without tools', 'POST', C, chat({ tool_choice: 'required' }), 400, /needs tools/, 'tool_choice'],
  ['tool_choice object without function', 'POST', C, chat({ tools: WEATHER_TOOLS, tool_choice: { type: 'function' } }), 400, /'tool_choice' object must be/, 'tool_choice'],
  ['unknown response_format type', 'POST', C, chat({ response_format: { type: 'xml' } }), 400, /'response_format.type' must be one of "text", "json_object", "json_schema"/, 'response_format.type'],
  ['json_schema format without json_schema', 'POST', C, chat({ response_format: { type: 'json_schema' } }), 400, /'response_format.json_schema' is required/, 'response_format.json_schema'],
  ['json_schema with an invalid schema', 'POST', C, chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } } }), 400, /response_format schema cannot be enforced/, 'response_format'],
  ['unknown model', 'POST', C, chat({ model: 'gpt-4' }), 404, /the model 'gpt-4' does not exist/, 'model'],
  ['seed of wrong type', 'POST', C, chat({ seed: 'abc' }), 400, /'seed' must be of type integer or null/, 'seed'],
  ['chat_template_kwargs of wrong type', 'POST', C, chat({ chat_template_kwargs: 'x' }), 400, /'chat_template_kwargs' must be of type object or null/, 'chat_template_kwargs'],
  ['enable_thinking of wrong type', 'POST', C, chat({ chat_template_kwargs: { enable_thinking: 'yes' } }), 400, /enable_thinking' must be a boolean/, 'chat_template_kwargs.enable_thinking'],
  ['logit_bias with a non-id key', 'POST', C, chat({ logit_bias: { abc: 1 } }), 400, /'logit_bias' keys must be token ids/, 'logit_bias.abc'],
  ['logit_bias value out of range', 'POST', C, chat({ logit_bias: { '42': 150 } }), 400, /'logit_bias' values must be numbers in \[-100, 100\]/, 'logit_bias.42'],
  ['logit_bias beyond the vocabulary', 'POST', C, chat({ logit_bias: { '999999999': 1 } }), 400, /outside the vocabulary/, 'logit_bias.999999999'],
  ['logprobs requested', 'POST', C, chat({ logprobs: true }), 400, /'logprobs' is not supported/, 'logprobs'],
  ['max_tokens and max_completion_tokens disagree', 'POST', C, chat({ max_completion_tokens: 9 }), 400, /disagree/, 'max_completion_tokens'],
  ['empty session_id', 'POST', C, chat({ session_id: '' }), 400, /'session_id' must NOT have fewer than 1 characters/, 'session_id'],
  ['session_id with bad characters', 'POST', C, chat({ session_id: 'bad name!' }), 400, /session_id may hold/, 'session_id'],
  ['parallel_tool_calls of wrong type', 'POST', C, chat({ parallel_tool_calls: 'no' }), 400, /'parallel_tool_calls' must be of type boolean or null/, 'parallel_tool_calls'],
  ['presence_penalty out of range', 'POST', C, chat({ presence_penalty: 5 }), 400, /'presence_penalty' must be <= 2/, 'presence_penalty'],
  ['unknown session', 'GET', '/v1/sessions/nope', undefined, 404, /session 'nope' not found/, 'session_id'],
  ['generate on an unknown session', 'POST', '/v1/sessions/nope/generate', {}, 404, /session 'nope' not found/, 'session_id'],
  ['session name of wrong type', 'POST', '/v1/sessions', { name: 5 }, 400, /'name' must be of type string/, 'name'],
  ['unknown field in a session body', 'POST', '/v1/sessions', { bogus: 1 }, 400, /unrecognized field 'bogus'/, 'bogus'],
  ['rollback past the end', 'POST', `${S()}/rollback`, { message: 99 }, 400, /message index 99 is out of range/, 'message'],
  ['append with neither messages nor document', 'POST', `${S()}/messages`, {}, 400, /either 'messages' or 'document'/],
  ['append a tool result to nothing', 'POST', `${S()}/messages`, { messages: [{ role: 'tool', tool_call_id: 'x', content: '1' }] }, 400, /must answer a preceding assistant message/],
  ['generate with a bad field', 'POST', `${S()}/generate`, { temperature: -1 }, 400, /'temperature' must be >= 0/, 'temperature'],
  ['legacy functions with tools', 'POST', C, chat({ functions: [{ name: 'f' }], tools: WEATHER_TOOLS }), 400, /send 'tools' or the legacy 'functions', not both/, 'functions'],
  ['legacy function_call of wrong value', 'POST', C, chat({ functions: [{ name: 'f' }], function_call: 'always' }), 400, /'function_call' must be "none", "auto" or \{"name": …\}/, 'function_call'],
  ['legacy functions not an array', 'POST', C, chat({ functions: 'f' }), 400, /'functions' must be of type array/, 'functions'],
  ['legacy function message answering nothing', 'POST', C, { messages: [{ role: 'user', content: 'x' }, { role: 'function', name: 'f', content: '1' }] }, 400, /answers no earlier assistant function_call/, 'messages'],
  ['top-level enable_thinking of wrong type', 'POST', C, chat({ enable_thinking: 'yes' }), 400, /'enable_thinking' must be of type boolean or null/, 'enable_thinking'],
  ['unknown reasoning_effort', 'POST', C, chat({ reasoning_effort: 'extreme' }), 400, /'reasoning_effort' must be one of "none", "minimal", "low", "medium", "high", "xhigh"/, 'reasoning_effort'],
  // Responses API
  ['responses: no input', 'POST', R, { model: 'x' }, 400, /'input' is required/, 'input'],
  ['responses: input of wrong type', 'POST', R, { input: 5 }, 400, /'input' must be of type string or array/, 'input'],
  ['responses: empty input string', 'POST', R, { input: '' }, 400, /'input' must NOT have fewer than 1 characters/, 'input'],
  ['responses: empty input array', 'POST', R, { input: [] }, 400, /'input' must NOT have fewer than 1 items/, 'input'],
  ['responses: input item not an object', 'POST', R, { input: [1] }, 400, /'input\[0\]' must be of type object/, 'input[0]'],
  ['responses: unsupported item type', 'POST', R, { input: [{ type: 'computer_call_output', call_id: 'x' }] }, 400, /items of type 'computer_call_output' are not supported/, 'input[0].type'],
  ['responses: message with a bad role', 'POST', R, { input: [{ role: 'tool', content: 'x' }] }, 400, /'input\[0\].role' must be one of "user", "system", "developer", "assistant"/, 'input[0].role'],
  ['responses: image content part', 'POST', R, { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, 400, /image content \(part of type 'input_image'\) is not supported/, 'input[0].content[0].type'],
  ['responses: function_call without call_id', 'POST', R, { input: [{ type: 'function_call', name: 'get_weather', arguments: '{}' }], tools: [RTOOL] }, 400, /'input\[0\].call_id' is required/, 'input[0].call_id'],
  ['responses: function_call arguments not a string', 'POST', R, { input: [{ type: 'function_call', call_id: 'c', name: 'get_weather', arguments: {} }], tools: [RTOOL] }, 400, /'input\[0\].arguments' must be a JSON string/, 'input[0].arguments'],
  ['responses: function_call_output answering nothing', 'POST', R, { input: [{ type: 'function_call_output', call_id: 'c', output: '1' }] }, 400, /must answer a preceding assistant message/, 'input[0].role'],
  ['responses: item_reference to no stored item', 'POST', R, { input: [{ type: 'item_reference', id: 'msg_1' }] }, 400, /item_reference 'msg_1' names no stored item/, 'input[0].id'],
  ['responses: built-in web_search', 'POST', R, resp({ tools: [{ type: 'web_search' }] }), 400, /the built-in tool 'web_search' is not available/, 'tools[0].type'],
  ['responses: built-in file_search', 'POST', R, resp({ tools: [{ type: 'file_search', vector_store_ids: ['v'] }] }), 400, /the built-in tool 'file_search' is not available/, 'tools[0].type'],
  ['responses: built-in computer_use_preview', 'POST', R, resp({ tools: [{ type: 'computer_use_preview' }] }), 400, /the built-in tool 'computer_use_preview' is not available/, 'tools[0].type'],
  ['responses: built-in code_interpreter', 'POST', R, resp({ tools: [{ type: 'code_interpreter' }] }), 400, /the built-in tool 'code_interpreter' is not available/, 'tools[0].type'],
  ['responses: tool with a bad name', 'POST', R, resp({ tools: [{ type: 'function', name: 'bad name' }] }), 400, /'tools\[0\].name' must be 1..64/, 'tools[0].name'],
  ['responses: tool parameters not an object', 'POST', R, resp({ tools: [{ type: 'function', name: 'f', parameters: 'x' }] }), 400, /'tools\[0\].parameters' must be a JSON Schema object/, 'tools[0].parameters'],
  ['responses: duplicate tool names', 'POST', R, resp({ tools: [RTOOL, RTOOL] }), 400, /duplicate tool name 'get_weather'/, 'tools[1].function.name'],
  ['responses: unknown tool_choice string', 'POST', R, resp({ tools: [RTOOL], tool_choice: 'sometimes' }), 400, /'tool_choice' must be "auto", "none", "required"/, 'tool_choice'],
  ['responses: tool_choice names an unknown tool', 'POST', R, resp({ tools: [RTOOL], tool_choice: { type: 'function', name: 'launch' } }), 400, /names the function "launch", which is not among the tools/, 'tool_choice'],
  ['responses: tool_choice required without tools', 'POST', R, resp({ tool_choice: 'required' }), 400, /needs tools/, 'tool_choice'],
  ['responses: tool_choice of a hosted type', 'POST', R, resp({ tools: [RTOOL], tool_choice: { type: 'web_search' } }), 400, /'tool_choice' of type 'web_search' is not supported/, 'tool_choice'],
  ['responses: unknown text.format type', 'POST', R, resp({ text: { format: { type: 'xml' } } }), 400, /'text.format.type' must be "text", "json_object" or "json_schema"/, 'text.format.type'],
  ['responses: json_schema without schema', 'POST', R, resp({ text: { format: { type: 'json_schema', name: 'x' } } }), 400, /'text.format.schema' is required/, 'text.format.schema'],
  ['responses: json_schema with an invalid schema', 'POST', R, resp({ text: { format: { type: 'json_schema', name: 'x', schema: { type: 'nonsense' } } } }), 400, /schema cannot be enforced/, 'response_format'],
  ['responses: background mode', 'POST', R, resp({ background: true }), 400, /background mode is not supported yet/, 'background'],
  ['responses: conversation object', 'POST', R, resp({ conversation: 'conv_1' }), 400, /'conversation' is not supported/, 'conversation'],
  ['responses: unknown previous_response_id', 'POST', R, resp({ previous_response_id: 'resp_nothere' }), 404, /no stored response 'resp_nothere'/, 'previous_response_id'],
  ['responses: malformed previous_response_id', 'POST', R, resp({ previous_response_id: 'abc' }), 400, /'previous_response_id' must match pattern/, 'previous_response_id'],
  ['responses: unknown reasoning effort', 'POST', R, resp({ reasoning: { effort: 'extreme' } }), 400, /'reasoning.effort' must be one of/, 'reasoning.effort'],
  ['responses: max_output_tokens zero', 'POST', R, resp({ max_output_tokens: 0 }), 400, /'max_output_tokens' must be >= 1/, 'max_output_tokens'],
  ['responses: temperature too high', 'POST', R, resp({ temperature: 3 }), 400, /'temperature' must be <= 2/, 'temperature'],
  ['responses: instructions of wrong type', 'POST', R, resp({ instructions: 5 }), 400, /'instructions' must be of type string or null/, 'instructions'],
  ['responses: stream of wrong type', 'POST', R, resp({ stream: 'yes' }), 400, /'stream' must be of type boolean or null/, 'stream'],
  ['responses: unknown model', 'POST', R, resp({ model: 'gpt-5' }), 404, /the model 'gpt-5' does not exist/, 'model'],
  ['responses: beyond the context', 'POST', R, resp({ max_output_tokens: 100000 }), 400, /context holds 2048 tokens/],
  ['responses: get an unknown response', 'GET', `${R}/resp_nothere`, undefined, 404, /no stored response 'resp_nothere'/, 'response_id'],
  ['responses: delete an unknown response', 'DELETE', `${R}/resp_nothere`, undefined, 404, /no stored response/, 'response_id'],
  ['responses: cancel an unknown response', 'POST', `${R}/resp_nothere/cancel`, undefined, 404, /no stored response/, 'response_id'],
  ['responses: input items of an unknown response', 'GET', `${R}/resp_nothere/input_items`, undefined, 404, /no stored response/, 'response_id'],
  // Anthropic Messages API (Anthropic-shaped errors: no param)
  ['messages: malformed JSON', 'POST', M, '{"messages": [', 400, /not valid JSON/],
  ['messages: no max_tokens', 'POST', M, { model: '{model}', messages: [{ role: 'user', content: 'x' }] }, 400, /'max_tokens' is required/],
  ['messages: no model', 'POST', M, { max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }, 400, /'model' is required/],
  ['messages: no messages', 'POST', M, { model: '{model}', max_tokens: 4 }, 400, /'messages' is required/],
  ['messages: empty messages', 'POST', M, msg({ messages: [] }), 400, /'messages' must NOT have fewer than 1 items/],
  ['messages: max_tokens zero', 'POST', M, msg({ max_tokens: 0 }), 400, /'max_tokens' must be >= 1/],
  ['messages: system role in messages', 'POST', M, msg({ messages: [{ role: 'system', content: 'x' }] }), 400, /'messages\[0\].role' must be one of "user", "assistant"/],
  ['messages: content of wrong type', 'POST', M, msg({ messages: [{ role: 'user', content: 5 }] }), 400, /'messages\[0\].content' must be of type string or array/],
  ['messages: image block', 'POST', M, msg({ messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }), 400, /image content \(block of type 'image'\) is not supported/],
  ['messages: tool_result without tool_use_id', 'POST', M, msg({ messages: [{ role: 'user', content: [{ type: 'tool_result', content: '1' }] }] }), 400, /tool_use_id' is required/],
  ['messages: tool_result answering nothing', 'POST', M, msg({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: '1' }] }] }), 400, /must answer a preceding assistant message/],
  ['messages: tool_use input not an object', 'POST', M, msg({ tools: [ATOOL], messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'get_weather', input: 'x' }] }, { role: 'user', content: 'y' }] }), 400, /'messages\[1\].content\[0\].input' must be an object/],
  ['messages: tool_use of an unknown tool', 'POST', M, msg({ tools: [ATOOL], messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'launch', input: {} }] }, { role: 'user', content: 'y' }] }), 400, /unknown tool 'launch'/],
  ['messages: assistant prefill', 'POST', M, msg({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'The answer is' }] }), 400, /prefilling an assistant answer is not supported/],
  ['messages: server tool', 'POST', M, msg({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), 400, /the server tool 'web_search_20250305' is not available/],
  ['messages: tool without input_schema', 'POST', M, msg({ tools: [{ name: 'f' }] }), 400, /'tools\[0\].input_schema' is required/],
  ['messages: tool with a bad name', 'POST', M, msg({ tools: [{ name: 'bad name', input_schema: { type: 'object' } }] }), 400, /'tools\[0\].name' must be 1..64/],
  ['messages: duplicate tool names', 'POST', M, msg({ tools: [ATOOL, ATOOL] }), 400, /duplicate tool name 'get_weather'/],
  ['messages: unknown tool_choice type', 'POST', M, msg({ tools: [ATOOL], tool_choice: { type: 'sometimes' } }), 400, /'tool_choice.type' must be one of "auto", "any", "tool", "none"/],
  ['messages: tool_choice tool without name', 'POST', M, msg({ tools: [ATOOL], tool_choice: { type: 'tool' } }), 400, /'tool_choice.name' is required/],
  ['messages: tool_choice names an unknown tool', 'POST', M, msg({ tools: [ATOOL], tool_choice: { type: 'tool', name: 'launch' } }), 400, /names the function "launch", which is not among the tools/],
  ['messages: tool_choice any without tools', 'POST', M, msg({ tool_choice: { type: 'any' } }), 400, /needs tools/],
  ['messages: unknown thinking type', 'POST', M, msg({ thinking: { type: 'sometimes' } }), 400, /'thinking.type' must be one of "enabled", "disabled", "adaptive"/],
  ['messages: temperature above 1', 'POST', M, msg({ temperature: 1.5 }), 400, /'temperature' must be <= 1/],
  ['messages: empty stop sequence', 'POST', M, msg({ stop_sequences: [''] }), 400, /'stop_sequences\[0\]' must NOT have fewer than 1 characters/],
  ['messages: system of wrong type', 'POST', M, msg({ system: 5 }), 400, /'system' must be of type string or array/],
  ['messages: hosted MCP connector', 'POST', M, msg({ mcp_servers: [{ type: 'url', url: 'https://x', name: 'x' }] }), 400, /'mcp_servers' \(the hosted MCP connector\) is not supported/],
  ['messages: unknown model', 'POST', M, msg({ model: 'claude-nonexistent' }), 404, /the model 'claude-nonexistent' does not exist/],
  ['messages: beyond the context', 'POST', M, msg({ max_tokens: 100000 }), 400, /context holds 2048 tokens/],
  ['count_tokens: no messages', 'POST', `${M}/count_tokens`, { model: '{model}' }, 400, /'messages' is required/],
  ['count_tokens: unknown model', 'POST', `${M}/count_tokens`, { model: 'x', messages: [{ role: 'user', content: 'x' }] }, 404, /the model 'x' does not exist/],
  ['unknown route', 'GET', '/v1/nothing-here', undefined, 404, /no route GET \/v1\/nothing-here/],
  ['wrong method', 'GET', C, undefined, 404, /no route GET/],
];

describe('malformed requests', () => {
  it(`answers each of ${cases.length} bad requests with a 4xx and a clear OpenAI- (or, under /v1/messages, Anthropic-) shaped error; the server stays healthy`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    const failures: string[] = [];
    for (const [name, method, path, body, status, match, param] of cases) {
      const r = await call(method, path, body);
      const text = await r.text();
      let err: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } | undefined;
      const anthropic = path.startsWith(M);
      try {
        const parsed = JSON.parse(text);
        if (!anthropic || parsed.type === 'error') err = parsed.error;
      } catch {
        /* not JSON */
      }
      const problems: string[] = [];
      if (r.status !== status) problems.push(`status ${r.status} ≠ ${status}`);
      if (!err || typeof err.message !== 'string' || typeof err.type !== 'string') problems.push(`not an ${anthropic ? 'Anthropic' : 'OpenAI'} error body`);
      else if (anthropic && err.type !== (status === 404 ? 'not_found_error' : 'invalid_request_error')) problems.push(`Anthropic error type ${String(err.type)}`);
      else {
        if (!match.test(err.message)) problems.push(`message ${JSON.stringify(err.message)} !~ ${match}`);
        if (param !== undefined && err.param !== param) problems.push(`param ${JSON.stringify(err.param)} ≠ ${JSON.stringify(param)}`);
      }
      if (problems.length) failures.push(`${name}: ${problems.join('; ')} — ${text.slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    const health = await fetch(`${srv!.url}/health`);
    expect(health.status).toBe(200);
    const ok = await call('POST', C, chat({ max_tokens: 3, chat_template_kwargs: { enable_thinking: false } }));
    expect(ok.status).toBe(200);
    expect((await ok.json()).choices[0].message.role).toBe('assistant');
    expect(srv!.host.scheduler.stats().active).toBe(0);
  });
});

describe('security', () => {
  const routes: [string, string][] = [
    ['GET', '/v1/models'], ['GET', '/v1/models/x'], ['POST', '/v1/chat/completions'], ['GET', '/v1/sessions'], ['POST', '/v1/sessions'],
    ['GET', '/v1/sessions/x'], ['POST', '/v1/sessions/x/generate'], ['POST', '/v1/sessions/x/fork'], ['DELETE', '/v1/sessions/x'], ['GET', '/metrics'], ['GET', '/not-a-route'],
    ['POST', '/v1/responses'], ['GET', '/v1/responses/resp_x'], ['DELETE', '/v1/responses/resp_x'], ['POST', '/v1/messages'], ['POST', '/v1/messages/count_tokens'],
  ];

  it('refuses a missing or wrong API key with 401 on every route but /health', async () => {
    for (const [method, path] of routes) {
      for (const headers of [{}, { authorization: 'Bearer wrong-key' }, { authorization: KEY }, { authorization: `Basic ${KEY}` }, { 'x-api-key': 'wrong-key' }] as Record<string, string>[]) {
        const r = await call(method, path, method === 'POST' ? chat({}) : undefined, headers);
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        const body = await r.json();
        if (path.startsWith('/v1/messages')) expect(body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
        else expect(body.error.code).toBe('invalid_api_key');
        expect(body.error.message).toMatch(/API key/);
      }
    }
    expect((await call('GET', '/health', undefined, {})).status).toBe(200);
    expect((await call('GET', '/v1/models')).status).toBe(200);
    expect((await call('GET', '/v1/models', undefined, { 'x-api-key': KEY })).status).toBe(200);
    const bad = new OpenAI({ baseURL: `${srv!.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(bad.models.list()).rejects.toMatchObject({ status: 401 });
  });

  it('refuses bodies over --max-body with 413 (with or without Content-Length)', async () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY) }] });
    const r = await call('POST', C, big);
    expect(r.status).toBe(413);
    expect((await r.json()).error.message).toMatch(/exceeds the limit of 262144 bytes/);
    const bytes = new TextEncoder().encode(big);
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.subarray(i, i + 65536));
        c.close();
      },
    });
    const r2 = await fetch(`${srv!.url}${C}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: chunked, duplex: 'half' } as RequestInit);
    expect(r2.status).toBe(413);
    expect((await fetch(`${srv!.url}/health`)).status).toBe(200);
  });
});
