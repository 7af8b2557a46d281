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
let skip = '';
let sessionId = '';

beforeAll(async () => {
  const s = await startTestServer({ apiKey: KEY, maxBodyBytes: MAX_BODY });
  if (typeof s === 'string') skip = s;
  else {
    srv = s;
    const r = await call('POST', '/v1/sessions', { messages: [{ role: 'user', content: 'hello' }] });
    sessionId = (await r.json()).id;
  }
});
afterAll(async () => srv?.close());

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): Promise<Response> {
  const raw = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body);
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
  ['image content part', 'POST', C, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 400, /type 'image_url' are not supported/, 'messages[0].content[0].type'],
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
  ['unknown route', 'GET', '/v1/nothing-here', undefined, 404, /no route GET \/v1\/nothing-here/],
  ['wrong method', 'GET', C, undefined, 404, /no route GET/],
];

describe('malformed requests', () => {
  it(`answers each of ${cases.length} bad requests with a 4xx and a clear OpenAI-shaped error; the server stays healthy`, async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const failures: string[] = [];
    for (const [name, method, path, body, status, match, param] of cases) {
      const r = await call(method, path, body);
      const text = await r.text();
      let err: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } | undefined;
      try {
        err = JSON.parse(text).error;
      } catch {
        /* not JSON */
      }
      const problems: string[] = [];
      if (r.status !== status) problems.push(`status ${r.status} ≠ ${status}`);
      if (!err || typeof err.message !== 'string' || typeof err.type !== 'string') problems.push('not an OpenAI error body');
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
  ];

  it('refuses a missing or wrong API key with 401 on every route but /health', async (ctx) => {
    if (skip) return ctx.skip(skip);
    for (const [method, path] of routes) {
      for (const headers of [{}, { authorization: 'Bearer wrong-key' }, { authorization: KEY }, { authorization: `Basic ${KEY}` }] as Record<string, string>[]) {
        const r = await call(method, path, method === 'POST' ? chat({}) : undefined, headers);
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        const e = (await r.json()).error;
        expect(e.code).toBe('invalid_api_key');
        expect(e.message).toMatch(/API key/);
      }
    }
    expect((await call('GET', '/health', undefined, {})).status).toBe(200);
    expect((await call('GET', '/v1/models')).status).toBe(200);
    const bad = new OpenAI({ baseURL: `${srv!.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(bad.models.list()).rejects.toMatchObject({ status: 401 });
  });

  it('refuses bodies over --max-body with 413 (with or without Content-Length)', async (ctx) => {
    if (skip) return ctx.skip(skip);
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
