/**
 * /v1/responses driven by the official `openai` client (responses.create / responses.stream)
 * against the in-process server on the tiny model: stateful multi-turn through
 * previous_response_id (only the new input is prefilled), tool calls and function_call_output,
 * structured output, streamed = non-streamed, stored responses (get, input items, delete), and a
 * chain that survives a restart.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import { serverFixture, testAjv as ajv, WEATHER_TOOLS } from './http-support.js';

const f = serverFixture();
/** Thinking off; `seed` is our extension (the Responses API has none). */
const BASE = { reasoning: { effort: 'none' }, temperature: 1 } as Record<string, unknown>;
const TOOLS = WEATHER_TOOLS.map((t) => ({ type: 'function' as const, name: t.function.name, description: t.function.description, parameters: t.function.parameters, strict: true }));

type Resp = OpenAI.Responses.Response & { x_resident: { session_id: string; prefilled_tokens: number } };
const create = (p: Record<string, unknown>) => f.openai.responses.create({ model: f.model, ...BASE, ...p } as never) as unknown as Promise<Resp>;

/** Tokens a turn appending `messages` after `tail` prefills: the messages plus the generation prompt. */
function newTokens(messages: ChatMessage[], tools = WEATHER_TOOLS as unknown[], tail: 'assistant' | 'empty' = 'assistant') {
  const p = f.srv!.host.protocol;
  const a = p.append(tail, messages, { tools: tools as never });
  return a.tokens.length + p.generationPrompt(a.tail, { tools: tools as never, enableThinking: false }).tokens.length;
}

/** Output items reduced to what must agree across modes. */
const shape = (r: OpenAI.Responses.Response) => r.output.map((o) => (o.type === 'function_call' ? ['call', o.name, o.arguments, o.status] : o.type === 'message' ? ['message', o.content.map((c) => (c.type === 'output_text' ? c.text : ''))] : [o.type]));

describe('responses (openai client)', () => {
  it('answers text, keeps the response (get, input_items) and deletes it', async () => {
    const r = await create({ input: 'Say something.', max_output_tokens: 10, seed: 3 });
    expect(r.object).toBe('response');
    expect(r.id).toMatch(/^resp_/);
    expect(['completed', 'incomplete']).toContain(r.status);
    expect(r.output.at(-1)!.type).toBe('message');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage!.output_tokens).toBeGreaterThan(0);
    expect(r.usage!.input_tokens_details.cached_tokens + r.x_resident.prefilled_tokens).toBe(r.usage!.input_tokens);
    const got = await f.openai.responses.retrieve(r.id);
    expect(got.output).toEqual(r.output);
    const items = await f.openai.responses.inputItems.list(r.id);
    expect(items.data).toHaveLength(1);
    expect((items.data[0] as { role: string }).role).toBe('user');
    await f.openai.responses.delete(r.id);
    await expect(f.openai.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
    expect(() => f.srv!.host.store.get(r.x_resident.session_id)).toThrow();
    const unstored = await create({ input: 'Not kept.', max_output_tokens: 3, seed: 1, store: false });
    await expect(f.openai.responses.retrieve(unstored.id)).rejects.toMatchObject({ status: 404 });
  });

  it('multi-turn via previous_response_id with a tool call and function_call_output prefills only the new input', async () => {
    const instructions = `You are test bot ${Date.now()}.`;
    const r1 = await create({ instructions, input: 'Add 2 and 3.', tools: TOOLS, tool_choice: { type: 'function', name: 'add' }, parallel_tool_calls: false, max_output_tokens: 60, seed: 21 });
    expect(r1.usage!.input_tokens_details.cached_tokens).toBe(0);
    const call = r1.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call, JSON.stringify(r1.output)).toBeDefined();
    expect(call.name).toBe('add');
    const args = JSON.parse(call.arguments);
    expect(ajv.compile(WEATHER_TOOLS[1]!.function.parameters)(args)).toBe(true);
    const output = String(args.a + args.b);
    const r2 = await create({ instructions, previous_response_id: r1.id, input: [{ type: 'function_call_output', call_id: call.call_id, output }], tools: TOOLS, max_output_tokens: 8, seed: 22 });
    expect(r2.x_resident.session_id).toBe(r1.x_resident.session_id);
    expect(r2.previous_response_id).toBe(r1.id);
    expect(r2.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'tool', tool_call_id: call.call_id, content: output }]));
    expect(r2.usage!.input_tokens_details.cached_tokens).toBe(r2.usage!.input_tokens - r2.x_resident.prefilled_tokens);
    expect(r2.usage!.input_tokens).toBeGreaterThan(r1.usage!.input_tokens + r1.usage!.output_tokens);
    const r3 = await create({ instructions, previous_response_id: r2.id, input: 'Thanks! And 4 + 4?', tools: TOOLS, max_output_tokens: 8, seed: 23 });
    expect(r3.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'user', content: 'Thanks! And 4 + 4?' }]));
    // A second branch from r1 forks the session at r1's end: it too prefills only its input.
    const b2 = await create({ instructions, previous_response_id: r1.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '99' }], tools: TOOLS, max_output_tokens: 4, seed: 24 });
    expect(b2.x_resident.session_id).not.toBe(r1.x_resident.session_id);
    expect(b2.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'tool', tool_call_id: call.call_id, content: '99' }]));
    // Other tools: the conversation is rebuilt on a new session from the stored chain.
    const other = await create({ instructions, previous_response_id: r3.id, input: 'No tools now.', max_output_tokens: 4, seed: 25 });
    expect(other.x_resident.session_id).not.toBe(r1.x_resident.session_id);
    expect(other.usage!.input_tokens).toBeGreaterThan(other.x_resident.prefilled_tokens - 1);
  });

  it('without previous_response_id, a resent history reuses the stored session it continues (as the AI SDK resends)', async () => {
    const instructions = `Resend bot ${Date.now()}.`;
    const r1 = await create({ instructions, input: 'First?', max_output_tokens: 6, seed: 61 });
    const history = [{ role: 'user', content: 'First?' }, ...r1.output, { role: 'user', content: 'Second?' }];
    const r2 = await create({ instructions, input: history, max_output_tokens: 6, seed: 62 });
    expect(r2.x_resident.session_id).toBe(r1.x_resident.session_id); // continued in place
    expect(r2.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'user', content: 'Second?' }], []));
    // r1 stays continuable, and a different second question forks r2's session at r1's end.
    const r3 = await create({ instructions, input: [{ role: 'user', content: 'First?' }, ...r1.output, { role: 'user', content: 'Other?' }], max_output_tokens: 4, seed: 63 });
    expect(r3.x_resident.session_id).not.toBe(r1.x_resident.session_id);
    expect(r3.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'user', content: 'Other?' }], []));
    const r4 = await create({ instructions, previous_response_id: r1.id, input: 'Third?', max_output_tokens: 4, seed: 64 });
    expect(r4.x_resident.prefilled_tokens).toBe(newTokens([{ role: 'user', content: 'Third?' }], []));
  });

  it('streamed and non-streamed give the same output for the same seed; the stream follows the documented event order', async () => {
    for (const p of [
      { input: 'Tell me a story.', max_output_tokens: 14, seed: 7 },
      { input: 'Weather in Paris?', tools: TOOLS, tool_choice: 'required', max_output_tokens: 80, seed: 11 },
      { input: 'Think first.', reasoning: { effort: 'high' }, max_output_tokens: 20, seed: 5 },
    ]) {
      const r = await create(p);
      const stream = f.openai.responses.stream({ model: f.model, ...BASE, ...p } as never);
      const types: string[] = [];
      const seqs: number[] = [];
      for await (const e of stream) {
        types.push(e.type);
        seqs.push(e.sequence_number);
      }
      const s = await stream.finalResponse();
      expect(shape(s)).toEqual(shape(r));
      expect([s.usage!.input_tokens, s.usage!.output_tokens]).toEqual([r.usage!.input_tokens, r.usage!.output_tokens]); // cached_tokens differ: the second run reuses the first's prefix
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
      expect(types.at(-1)).toBe(r.status === 'completed' ? 'response.completed' : 'response.incomplete');
      if (r.output.some((o) => o.type === 'message')) {
        expect(types).toContain('response.output_text.delta');
        expect(types.indexOf('response.content_part.added')).toBeLessThan(types.indexOf('response.output_text.delta'));
        expect(types).toContain('response.output_text.done');
      }
      if (r.output.some((o) => o.type === 'function_call')) {
        expect(types).toContain('response.function_call_arguments.delta');
        expect(types).toContain('response.function_call_arguments.done');
      }
      expect(types.filter((t) => t === 'response.output_item.added')).toHaveLength(r.output.length);
      expect(types.filter((t) => t === 'response.output_item.done')).toHaveLength(r.output.length);
    }
  });

  it('reasoning items are accepted back as input and land in the history as reasoning_content', async () => {
    const reasoning = { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 'The user wants a number.' }] };
    const history = [
      { role: 'user', content: 'Pick a number.' }, reasoning,
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: '7', annotations: [] }] },
      { role: 'user', content: 'Another?' },
    ];
    const r = await create({ input: history, max_output_tokens: 4, seed: 42 });
    const view = await (await fetch(`${f.srv!.url}/v1/sessions/${r.x_resident.session_id}`)).json();
    const assistant = view.messages.find((m: ChatMessage) => m.role === 'assistant');
    expect(assistant).toMatchObject({ content: '7', reasoning_content: 'The user wants a number.' });
  });

  it('item_reference items name stored output items (as the AI SDK sends them)', async () => {
    const r1 = await create({ input: 'Say a word.', max_output_tokens: 6, seed: 51 });
    const msg = r1.output.find((o) => o.type === 'message')!;
    const r2 = await create({ input: [{ role: 'user', content: 'Say a word.' }, { type: 'item_reference', id: msg.id }, { role: 'user', content: 'Another.' }], max_output_tokens: 4, seed: 52 });
    const view = await (await fetch(`${f.srv!.url}/v1/sessions/${r2.x_resident.session_id}`)).json();
    expect(view.messages.map((m: ChatMessage) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(view.messages[1].content).toBe((msg as OpenAI.Responses.ResponseOutputMessage).content.map((c) => (c.type === 'output_text' ? c.text : '')).join(''));
  });

  it('an in-flight response can be cancelled; it is stored as cancelled', async () => {
    const stream = f.openai.responses.stream({ model: f.model, ...BASE, input: 'Talk for a long time.', max_output_tokens: 1500 } as never);
    let id = '';
    let cancelled: Resp | undefined;
    const types: string[] = [];
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.created') id = e.response.id;
      if (e.type === 'response.output_text.delta' && !cancelled) cancelled = await f.openai.responses.cancel(id) as unknown as Resp;
    }
    expect(cancelled?.status).toBe('cancelled');
    expect(types.at(-1)).toBe('response.incomplete');
    expect((await f.openai.responses.retrieve(id)).status).toBe('cancelled');
    expect(cancelled!.usage!.output_tokens).toBeLessThan(200);
    await expect(f.openai.responses.cancel(id)).rejects.toMatchObject({ status: 400 });
  });

  it('text.format json_schema constrains the answer', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'], additionalProperties: false };
    const r = await create({ input: 'Describe a person as JSON.', max_output_tokens: 120, seed: 31, text: { format: { type: 'json_schema', name: 'person', schema, strict: true } } });
    expect(r.status).toBe('completed');
    expect(ajv.compile(schema)(JSON.parse(r.output_text))).toBe(true);
  });

  it('a max_output_tokens cut is reported as incomplete, the call cut as it stands, the same in both modes', async () => {
    const p = { input: 'Weather?', tools: TOOLS, tool_choice: { type: 'function', name: 'get_weather' }, max_output_tokens: 32, seed: 2 };
    const r = await create(p);
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details?.reason).toBe('max_output_tokens');
    const cut = r.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(cut, JSON.stringify(r.output)).toMatchObject({ name: 'get_weather', status: 'incomplete' });
    expect(() => JSON.parse(cut.arguments)).toThrow();
    const s = await f.openai.responses.stream({ model: f.model, ...BASE, ...p } as never).finalResponse();
    expect(shape(s)).toEqual(shape(r));
  });
});
