/**
 * /v1/chat/completions driven by the real `openai` client against the in-process server on the tiny
 * model: plain and streamed answers, KV reuse across resent histories, tools under every tool_choice,
 * response_format, named sessions, cancellation on disconnect.
 */
import OpenAI from 'openai';
import _Ajv from 'ajv';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import { startTestServer, WEATHER_TOOLS, type TestServer } from './http-support.js';

type AjvCtor = new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } };
const Ajv = ((_Ajv as unknown as { default?: AjvCtor }).default ?? _Ajv) as unknown as AjvCtor;
const ajv = new Ajv({ strict: false });

let srv: TestServer | undefined;
let client: OpenAI;
let model = '';
const NO_THINK = { chat_template_kwargs: { enable_thinking: false } } as Record<string, unknown>;

beforeAll(async () => {
  const s = await startTestServer();
  srv = s;
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  model = s.host.modelId;
});
afterAll(async () => srv?.close());

type Usage = { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number }; prefilled_tokens?: number; reused_tokens?: number };

/** Collects a streamed completion: content, tool calls reassembled from deltas, finish reason, usage. */
async function collectStream(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let content = '';
  let finish: string | null = null;
  let usage: Usage | undefined;
  let chunks = 0;
  const calls: { id?: string; name: string; arguments: string }[] = [];
  for await (const ch of stream) {
    chunks++;
    if (ch.usage) usage = ch.usage as Usage;
    for (const c of ch.choices) {
      content += c.delta.content ?? '';
      for (const t of c.delta.tool_calls ?? []) {
        const call = (calls[t.index] ??= { name: '', arguments: '' });
        if (t.id) call.id = t.id;
        call.name += t.function?.name ?? '';
        call.arguments += t.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { content, finish, usage, calls, chunks };
}

describe('chat completions (openai client)', () => {
  it('answers non-streamed and streamed alike for the same seed, with usage', async () => {
    const req = { model, messages: [{ role: 'user' as const, content: 'Say something.' }], max_tokens: 12, seed: 7, temperature: 0.8, ...NO_THINK };
    const r = await client.chat.completions.create(req);
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe(model);
    expect(r.choices).toHaveLength(1);
    const ch = r.choices[0]!;
    expect(ch.message.role).toBe('assistant');
    expect(typeof ch.message.content).toBe('string');
    expect(['stop', 'length']).toContain(ch.finish_reason);
    const u = r.usage as Usage;
    expect(u.completion_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeLessThanOrEqual(12);
    expect(u.prefilled_tokens! + u.prompt_tokens_details!.cached_tokens!).toBe(u.prompt_tokens);

    const s = await collectStream(await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } }));
    expect(s.content).toBe(ch.message.content);
    expect(s.finish).toBe(ch.finish_reason);
    expect(s.usage?.completion_tokens).toBe(u.completion_tokens);
    expect(s.usage?.prompt_tokens).toBe(u.prompt_tokens);
    expect(s.chunks).toBeGreaterThan(2);
  });

  it('a multi-turn chat resending full histories prefills only the new messages', async () => {
    const host = srv!.host;
    const messages: ChatMessage[] = [{ role: 'system', content: `You are test bot ${Date.now()}.` }, { role: 'user', content: 'First question?' }];
    const first = await client.chat.completions.create({ model, messages: messages as never, max_tokens: 8, seed: 1, ...NO_THINK });
    const u1 = first.usage as Usage;
    expect(u1.prefilled_tokens).toBe(u1.prompt_tokens); // nothing to reuse: a new system prompt
    let history = [...messages, { role: 'assistant', content: first.choices[0]!.message.content } as ChatMessage];
    let before = u1.prompt_tokens + u1.completion_tokens;
    for (const q of ['Second question?', 'And a third one, a bit longer than the others?']) {
      const user: ChatMessage = { role: 'user', content: q };
      history = [...history, user];
      const r = await client.chat.completions.create({ model, messages: history as never, max_tokens: 8, seed: 2, ...NO_THINK });
      const u = r.usage as Usage;
      const newTokens = host.protocol.append('assistant', [user]).tokens.length + host.protocol.generationPrompt('user', { enableThinking: false }).tokens.length;
      expect(u.prefilled_tokens).toBe(newTokens);
      expect(u.prompt_tokens_details!.cached_tokens).toBe(u.prompt_tokens - newTokens);
      expect(u.prompt_tokens).toBeGreaterThan(before); // the whole history is the prompt…
      before = u.prompt_tokens + u.completion_tokens;
      history = [...history, { role: 'assistant', content: r.choices[0]!.message.content } as ChatMessage];
    }
    // Regenerating the last answer (same history without it) reuses everything before it, the generation prompt included.
    const again = await client.chat.completions.create({ model, messages: history.slice(0, -1) as never, max_tokens: 4, seed: 3, ...NO_THINK });
    expect((again.usage as Usage).prefilled_tokens).toBe(0);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(again.usage!.prompt_tokens);
    // with thinking on the generation prompt (`<|im_start|>assistant\n`) is a prefix of the one held: nothing is prefilled
    const gp = (t: boolean) => host.protocol.generationPrompt('user', { enableThinking: t }).tokens;
    expect(gp(false).slice(0, gp(true).length)).toEqual(gp(true));
    const think = await client.chat.completions.create({ model, messages: history.slice(0, -1) as never, max_tokens: 4, seed: 3 });
    expect((think.usage as Usage).prefilled_tokens).toBe(0);
    // and back: the thinking turn's generation prompt is followed by its answer, the rest of gp(false) is prefilled
    const back = await client.chat.completions.create({ model, messages: history.slice(0, -1) as never, max_tokens: 4, seed: 3, ...NO_THINK });
    expect((back.usage as Usage).prefilled_tokens).toBe(gp(false).length - gp(true).length);
  });

  it('stop strings end the answer before them (streamed and not)', async () => {
    const req = { model, messages: [{ role: 'user' as const, content: 'Write a lot.' }], max_tokens: 24, seed: 17, temperature: 0.9, ...NO_THINK };
    const full = (await client.chat.completions.create(req)).choices[0]!.message.content!;
    let at = Math.floor(full.length / 2);
    while (at < full.length - 3 && full.indexOf(full.slice(at, at + 3)) !== at) at++;
    const stop = full.slice(at, at + 3);
    expect(stop.length, `output too short to pick a stop string: ${JSON.stringify(full)}`).toBe(3);
    const r = await client.chat.completions.create({ ...req, stop: [stop, 'never-appears'] });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.message.content).toBe(full.slice(0, at).trimEnd());
    const s = await collectStream(await client.chat.completions.create({ ...req, stop, stream: true }));
    expect(s.content).toBe(full.slice(0, at).trimEnd());
    expect(s.finish).toBe('stop');
  });

  it('conversations sharing a system prompt share its K/V, and each keeps its own history', async () => {
    const host = srv!.host;
    const system: ChatMessage = { role: 'system', content: `Shared system prompt ${Date.now()}: be terse and precise in every answer you give.` };
    const sysTokens = host.protocol.append('empty', [system]).tokens.length;
    const run = (messages: ChatMessage[], seed: number) => client.chat.completions.create({ model, messages: messages as never, max_tokens: 6, seed, ...NO_THINK });
    const a1 = await run([system, { role: 'user', content: 'Conversation A.' }], 1);
    expect((a1.usage as Usage).prefilled_tokens).toBe((a1.usage as Usage).prompt_tokens);
    const b1 = await run([system, { role: 'user', content: 'Conversation B, different.' }], 2);
    expect((b1.usage as Usage).prompt_tokens_details!.cached_tokens).toBe(sysTokens); // forked off A at the system prompt
    const a2 = await run([system, { role: 'user', content: 'Conversation A.' }, { role: 'assistant', content: a1.choices[0]!.message.content }, { role: 'user', content: 'A again.' }], 3);
    const ua = a2.usage as Usage;
    const aHistory = (a1.usage as Usage).prompt_tokens + (a1.usage as Usage).completion_tokens; // + the turn's closing (1–2 tokens)
    expect(ua.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(aHistory + 1); // A's whole history was kept
    expect(ua.prompt_tokens_details!.cached_tokens).toBeLessThanOrEqual(aHistory + 2);
  });

  it('tool_choice required / named: calls parse and validate against their schemas; streamed = non-streamed', async () => {
    const validators = new Map(WEATHER_TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));
    // `names`: the tools a call may name; `one`: parallel_tool_calls false — exactly one call, and it fits in
    // max_tokens (both schemas bound every value), so the turn ends 'tool_calls'. With parallel calls the
    // last one may be cut by max_tokens; every call before it is complete.
    const cases = [
      { body: { tool_choice: 'required' as const, parallel_tool_calls: false, seed: 11 }, names: ['get_weather', 'add'], one: true },
      { body: { tool_choice: { type: 'function' as const, function: { name: 'add' } }, parallel_tool_calls: false, seed: 12 }, names: ['add'], one: true },
      { body: { tool_choice: { type: 'function' as const, function: { name: 'get_weather' } }, seed: 13 }, names: ['get_weather'], one: false },
    ];
    for (const c of cases) {
      const req = { model, messages: [{ role: 'user' as const, content: 'What is the weather in Paris, and what is 2+3?' }], tools: WEATHER_TOOLS, max_tokens: 160, temperature: 1, ...c.body, ...NO_THINK };
      const r = await client.chat.completions.create(req);
      const ch = r.choices[0]!;
      const calls = (ch.message.tool_calls ?? []).map((x) => (x.type === 'function' ? x : assert.fail('not a function call')));
      const where = JSON.stringify(ch);
      expect(calls.length, where).toBeGreaterThanOrEqual(1);
      expect(calls.length, where).toBeLessThanOrEqual(c.one ? 1 : 8);
      expect(c.one ? ['tool_calls'] : ['tool_calls', 'length'], where).toContain(ch.finish_reason);
      const complete = calls.slice(0, ch.finish_reason === 'length' ? -1 : undefined);
      expect(complete.length, `at least one complete call: ${where}`).toBeGreaterThanOrEqual(1);
      for (const call of calls) expect(c.names, where).toContain(call.function.name);
      for (const call of complete) {
        const validate = validators.get(call.function.name)!;
        const args = JSON.parse(call.function.arguments);
        expect(validate(args), `${call.function.arguments}: ${JSON.stringify(validate.errors)}`).toBe(true);
        expect(call.id).toMatch(/^call_/);
      }
      const s = await collectStream(await client.chat.completions.create({ ...req, stream: true }));
      expect(s.finish).toBe(ch.finish_reason);
      expect(s.calls.map((x) => [x.name, x.arguments])).toEqual(calls.map((x) => [x.function.name, x.function.arguments]));
    }
  });

  it("tool_choice 'none' and tools absent produce no calls", async () => {
    const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], tools: WEATHER_TOOLS, tool_choice: 'none', max_tokens: 24, seed: 5, ...NO_THINK });
    expect(r.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(r.choices[0]!.finish_reason).not.toBe('tool_calls');
  });

  it('a tool-result turn continues the history it answers', async () => {
    const base = [{ role: 'user' as const, content: 'Add 2 and 3.' }];
    const r = await client.chat.completions.create({ model, messages: base, tools: WEATHER_TOOLS, tool_choice: { type: 'function', function: { name: 'add' } }, parallel_tool_calls: false, max_tokens: 60, seed: 21, ...NO_THINK });
    const msg = r.choices[0]!.message;
    const call = msg.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    const next = await client.chat.completions.create({
      model, tools: WEATHER_TOOLS, max_tokens: 8, seed: 22, ...NO_THINK,
      messages: [...base, { role: 'assistant', content: msg.content, tool_calls: msg.tool_calls }, { role: 'tool', tool_call_id: call.id, content: '5' }],
    });
    const u = next.usage as Usage;
    const toolTurn = srv!.host.protocol.append('assistant', [{ role: 'tool', tool_call_id: call.id, content: '5' }], { tools: WEATHER_TOOLS }).tokens.length;
    expect(u.prefilled_tokens).toBe(toolTurn + srv!.host.protocol.generationPrompt('tool', { tools: WEATHER_TOOLS, enableThinking: false }).tokens.length);
  });

  it('response_format json_schema and json_object constrain the answer to valid JSON', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'], additionalProperties: false };
    const r = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'Describe a person as JSON.' }], max_tokens: 120, seed: 31, ...NO_THINK,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    const ch = r.choices[0]!;
    expect(ch.finish_reason).toBe('stop');
    expect(ajv.compile(schema)(JSON.parse(ch.message.content!))).toBe(true);
    const o = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'JSON please.' }], max_tokens: 48, seed: 4, temperature: 0.7, response_format: { type: 'json_object' }, ...NO_THINK });
    if (o.choices[0]!.finish_reason === 'stop') {
      const v = JSON.parse(o.choices[0]!.message.content!);
      expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
    } else expect(o.choices[0]!.message.content!.trimStart().startsWith('{')).toBe(true);
  });

  it('session_id binds requests to a named persistent session', async () => {
    const messages = [{ role: 'user' as const, content: 'Remember me.' }];
    const r1 = await client.chat.completions.create({ model, messages, max_tokens: 5, seed: 1, session_id: 'alice', ...NO_THINK } as never) as OpenAI.Chat.Completions.ChatCompletion;
    const sid = (r1 as unknown as { session_id: string }).session_id;
    const history = [...messages, { role: 'assistant' as const, content: r1.choices[0]!.message.content }, { role: 'user' as const, content: 'Again.' }];
    const r2 = await client.chat.completions.create({ model, messages: history, max_tokens: 5, seed: 2, session_id: 'alice', ...NO_THINK } as never) as OpenAI.Chat.Completions.ChatCompletion;
    expect((r2 as unknown as { session_id: string }).session_id).toBe(sid);
    expect((r2.usage as Usage).prompt_tokens_details!.cached_tokens).toBeGreaterThan(0);
    const view = await (await fetch(`${srv!.url}/v1/sessions/alice`)).json();
    expect(view.id).toBe(sid);
    expect(view.name).toBe('alice');
    expect(view.messages.map((m: ChatMessage) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('concurrent streams all complete', async () => {
    const runs = await Promise.all([0, 1, 2, 3].map((i) => client.chat.completions.create({ model, messages: [{ role: 'user', content: `Parallel ${i}` }], max_tokens: 10, seed: i, stream: true, ...NO_THINK }).then(collectStream)));
    for (const r of runs) expect(['stop', 'length']).toContain(r.finish);
  });

  it('a client that disconnects mid-stream cancels its generation', async () => {
    const host = srv!.host;
    const generatedBefore = host.metrics.generated.get();
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Talk for a long time.' }], max_tokens: 1500, seed: 9, stream: true, ...NO_THINK }, { signal: ac.signal });
    let n = 0;
    try {
      for await (const _ of stream) if (++n === 5) ac.abort();
    } catch {
      /* aborted */
    }
    const t0 = Date.now();
    while (host.scheduler.stats().active > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(host.scheduler.stats().active).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    const metrics = await (await fetch(`${srv!.url}/metrics`)).text();
    expect(metrics).toMatch(/resident_turns_total\{finish="aborted"\} [1-9]/);
    expect(host.metrics.generated.get() - generatedBefore).toBeLessThan(200); // far fewer than max_tokens
  });

  it('a client that leaves at the response headers (generation already started) cancels it too', async () => {
    const host = srv!.host;
    const generatedBefore = host.metrics.generated.get();
    const ac = new AbortController();
    const started = await fetch(`${srv!.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Talk for a long time, again.' }], max_tokens: 1500, seed: 10, stream: true, ...NO_THINK }),
    });
    expect(started.status).toBe(200);
    ac.abort(); // nothing of the body read
    const t0 = Date.now();
    while (host.scheduler.stats().active > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(host.scheduler.stats().active).toBe(0);
    expect(host.metrics.generated.get() - generatedBefore).toBeLessThan(200);
  });
});
