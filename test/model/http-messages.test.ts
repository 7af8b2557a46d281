/**
 * /v1/messages driven by the official `@anthropic-ai/sdk` client (messages.create / messages.stream
 * / countTokens) against the in-process server on the tiny model: text, multi-turn tool use with
 * tool_result blocks and prefix reuse, thinking on/off, stop_sequences, streamed = non-streamed,
 * x-api-key auth and Anthropic-shaped errors.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import { startTestServer, testAjv as ajv, WEATHER_TOOLS, type TestServer } from './http-support.js';


const KEY = 'sk-ant-test-42';
let srv: TestServer | undefined;
let client: Anthropic;
let model = '';
const TOOLS = WEATHER_TOOLS.map((t) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters as Anthropic.Tool.InputSchema }));

beforeAll(async () => {
  const s = await startTestServer({ apiKey: KEY, modelAliases: ['claude-test-alias'] });
  srv = s;
  client = new Anthropic({ baseURL: s.url, apiKey: KEY, maxRetries: 0 });
  model = s.host.modelId;
});
afterAll(async () => srv?.close());

type Params = Omit<Anthropic.MessageCreateParamsNonStreaming, 'model'> & { seed?: number };
const create = (p: Params) => client.messages.create({ model, ...p } as Anthropic.MessageCreateParamsNonStreaming);
const blocks = (m: Anthropic.Message) => m.content.map((b) => (b.type === 'tool_use' ? ['tool_use', b.name, b.input] : b.type === 'text' ? ['text', b.text] : b.type === 'thinking' ? ['thinking', b.thinking] : [b.type]));

describe('messages (@anthropic-ai/sdk)', () => {
  it('answers text with Anthropic usage; an alias model name answers too', async () => {
    const m = await create({ max_tokens: 10, messages: [{ role: 'user', content: 'Say something.' }], seed: 3 });
    expect(m.type).toBe('message');
    expect(m.role).toBe('assistant');
    expect(m.id).toMatch(/^msg_/);
    expect(['end_turn', 'max_tokens']).toContain(m.stop_reason);
    expect(m.content[0]!.type).toBe('text');
    expect(m.usage.output_tokens).toBeGreaterThan(0);
    expect(m.usage.input_tokens).toBeGreaterThan(0);
    const alias = await client.messages.create({ model: 'claude-test-alias', max_tokens: 2, messages: [{ role: 'user', content: 'Hi' }] });
    expect(alias.model).toBe('claude-test-alias');
  });

  it('multi-turn tool use: tool_use validates against input_schema, the tool_result turn reuses the history', async () => {
    const system = `You are test bot ${Date.now()}.`;
    const first: Anthropic.MessageParam[] = [{ role: 'user', content: 'Add 2 and 3.' }];
    const m1 = await create({ system, max_tokens: 60, tools: TOOLS, tool_choice: { type: 'tool', name: 'add', disable_parallel_tool_use: true }, messages: first, seed: 21 });
    expect(m1.stop_reason).toBe('tool_use');
    const use = m1.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(use.id).toMatch(/^toolu_/);
    expect(use.name).toBe('add');
    expect(ajv.compile(WEATHER_TOOLS[1]!.function.parameters)(use.input)).toBe(true);
    const result: Anthropic.MessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '5' }] };
    const m2 = await create({ system, max_tokens: 8, tools: TOOLS, messages: [...first, { role: 'assistant', content: m1.content }, result], seed: 22 });
    const p = srv!.host.protocol;
    const tool: ChatMessage = { role: 'tool', tool_call_id: use.id, content: '5' };
    const a = p.append('assistant', [tool], { tools: WEATHER_TOOLS });
    expect(m2.usage.input_tokens).toBe(a.tokens.length + p.generationPrompt(a.tail, { tools: WEATHER_TOOLS, enableThinking: false }).tokens.length);
    expect(m2.usage.cache_read_input_tokens).toBeGreaterThan(m1.usage.input_tokens);
  });

  it('tool_choice any forces a call, none forbids one', async () => {
    const any = await create({ max_tokens: 80, tools: TOOLS, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather?' }], seed: 5 });
    expect(any.content.some((b) => b.type === 'tool_use')).toBe(true);
    const none = await create({ max_tokens: 12, tools: TOOLS, tool_choice: { type: 'none' }, messages: [{ role: 'user', content: 'Weather?' }], seed: 5 });
    expect(none.content.some((b) => b.type === 'tool_use')).toBe(false);
  });

  it('streamed and non-streamed give the same blocks for the same seed (text, tool use, thinking)', async () => {
    for (const p of [
      { max_tokens: 14, messages: [{ role: 'user' as const, content: 'Tell me a story.' }], seed: 7, temperature: 1 },
      { max_tokens: 80, tools: TOOLS, tool_choice: { type: 'any' as const }, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }], seed: 11 },
      { max_tokens: 20, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'Think.' }], seed: 5 },
    ]) {
      const m = await create(p);
      const stream = client.messages.stream({ model, ...p } as Anthropic.MessageStreamParams);
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      const s = await stream.finalMessage();
      expect(blocks(s)).toEqual(blocks(m));
      expect(s.stop_reason).toBe(m.stop_reason);
      expect(s.usage.output_tokens).toBe(m.usage.output_tokens);
      expect(types[0]).toBe('message_start');
      expect(types.at(-1)).toBe('message_stop');
      expect(types.at(-2)).toBe('message_delta');
      expect(types.filter((t) => t === 'content_block_start')).toHaveLength(m.content.length);
      expect(types.filter((t) => t === 'content_block_stop')).toHaveLength(m.content.length);
    }
  });

  it('thinking disabled opens no think block; thinking blocks are accepted back in the history', async () => {
    const off = await create({ max_tokens: 16, thinking: { type: 'disabled' }, messages: [{ role: 'user', content: 'Hi' }], seed: 9 });
    expect(off.content.every((b) => b.type !== 'thinking')).toBe(true);
    const back = await create({
      max_tokens: 4, seed: 9, messages: [
        { role: 'user', content: 'Pick a number.' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'Seven is fine.', signature: '' }, { type: 'text', text: '7' }] },
        { role: 'user', content: 'Another?' },
      ],
    });
    expect(back.type).toBe('message');
  });

  it('stop_sequences end the answer before them with stop_reason stop_sequence', async () => {
    const p = { max_tokens: 24, messages: [{ role: 'user' as const, content: 'Write a lot.' }], seed: 17, temperature: 1 };
    const full = (await create(p)).content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    let at = Math.floor(full.length / 2);
    while (at < full.length - 3 && full.indexOf(full.slice(at, at + 3)) !== at) at++;
    const stop = full.slice(at, at + 3);
    expect(stop.length, `output too short: ${JSON.stringify(full)}`).toBe(3);
    const m = await create({ ...p, stop_sequences: [stop, 'never-appears'] });
    expect(m.stop_reason).toBe('stop_sequence');
    expect(m.stop_sequence).toBe(stop);
  });

  it('count_tokens counts the rendered prompt', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'How many tokens is this?' }];
    const n = await client.messages.countTokens({ model, system: 'Be brief.', messages, tools: TOOLS });
    const m = await create({ system: 'Be brief.', messages, tools: TOOLS, max_tokens: 1, seed: 1 });
    expect(n.input_tokens).toBe(m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0));
  });

  it('errors are Anthropic-shaped; Bearer auth works as well as x-api-key', async () => {
    const err = await create({ max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const bad = new Anthropic({ baseURL: srv!.url, apiKey: 'wrong', maxRetries: 0 });
    const auth = await bad.messages.create({ model, max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(auth).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(auth.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const bearer = new Anthropic({ baseURL: srv!.url, authToken: KEY, apiKey: null, maxRetries: 0 });
    expect((await bearer.messages.create({ model, max_tokens: 1, messages: [{ role: 'user', content: 'x' }] })).type).toBe('message');
  });
});
