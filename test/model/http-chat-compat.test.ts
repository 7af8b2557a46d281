/**
 * Chat-completions behaviour real clients tripped on, with the `openai` client against the
 * in-process server: a tool call cut by max_tokens is reported the same way streamed and not,
 * no non-standard top-level fields beyond the documented ones, top-level enable_thinking and
 * reasoning_effort (precedence below chat_template_kwargs), legacy functions / function_call,
 * and --model-alias names.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { serverFixture, WEATHER_TOOLS } from './http-support.js';

const ALIAS = 'gpt-4o-mini';
const f = serverFixture({ modelAliases: [ALIAS] });

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;
async function collect(stream: AsyncIterable<Chunk>) {
  const calls: { id?: string; name: string; arguments: string }[] = [];
  let finish: string | null = null;
  let fc = { name: '', arguments: '' };
  for await (const ch of stream) {
    for (const c of ch.choices) {
      for (const t of c.delta.tool_calls ?? []) {
        const call = (calls[t.index] ??= { name: '', arguments: '' });
        if (t.id) call.id = t.id;
        call.name += t.function?.name ?? '';
        call.arguments += t.function?.arguments ?? '';
      }
      const d = c.delta as { function_call?: { name?: string; arguments?: string } };
      if (d.function_call) fc = { name: fc.name + (d.function_call.name ?? ''), arguments: fc.arguments + (d.function_call.arguments ?? '') };
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { calls, finish, fc };
}

const NO_THINK = { chat_template_kwargs: { enable_thinking: false } } as Record<string, unknown>;

describe('chat completions: client compatibility', () => {
  it('a tool call cut by max_tokens is the partial call with finish_reason length, streamed and not', async () => {
    const req = { model: f.model, messages: [{ role: 'user' as const, content: 'Weather?' }], tools: WEATHER_TOOLS, tool_choice: { type: 'function' as const, function: { name: 'get_weather' } }, max_tokens: 32, seed: 2, ...NO_THINK };
    const r = await f.openai.chat.completions.create(req);
    const ch = r.choices[0]!;
    expect(ch.finish_reason).toBe('length');
    const calls = ch.message.tool_calls ?? [];
    expect(calls, JSON.stringify(ch.message)).toHaveLength(1);
    const call = calls[0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(() => JSON.parse(call.function.arguments)).toThrow(); // cut: not complete JSON
    const s = await collect(await f.openai.chat.completions.create({ ...req, stream: true }));
    expect(s.finish).toBe('length');
    expect(s.calls.map((c) => [c.name, c.arguments])).toEqual([['get_weather', call.function.arguments]]);
    expect(r).not.toHaveProperty('warnings');
    expect(Object.keys(r).sort()).toEqual(['choices', 'created', 'id', 'model', 'object', 'session_id', 'usage', 'x_resident']);
    expect((r as unknown as { x_resident: { warnings: string[] } }).x_resident.warnings.join(' ')).toMatch(/unterminated/);
  });

  it('top-level enable_thinking and reasoning_effort switch thinking; chat_template_kwargs wins', async () => {
    const prompt = async (extra: Record<string, unknown>) => {
      const r = await f.openai.chat.completions.create({ model: f.model, messages: [{ role: 'user', content: `Thinking probe ${Date.now()}` }], max_tokens: 1, seed: 1, ...extra } as never) as OpenAI.Chat.Completions.ChatCompletion;
      return r.usage!.prompt_tokens;
    };
    const off = await prompt({ chat_template_kwargs: { enable_thinking: false } });
    const on = await prompt({ chat_template_kwargs: { enable_thinking: true } });
    expect(off).not.toBe(on); // Qwen3's template closes an empty think block when thinking is off
    expect(await prompt({ enable_thinking: false })).toBe(off);
    expect(await prompt({ enable_thinking: true })).toBe(on);
    expect(await prompt({ reasoning_effort: 'none' })).toBe(off);
    expect(await prompt({ reasoning_effort: 'minimal' })).toBe(off);
    expect(await prompt({ reasoning_effort: 'high' })).toBe(on);
    expect(await prompt({ enable_thinking: true, reasoning_effort: 'none' })).toBe(on);
    expect(await prompt({ chat_template_kwargs: { enable_thinking: true }, enable_thinking: false })).toBe(on);
  });

  it('legacy functions / function_call are mapped to tools and answered in the legacy shape', async () => {
    const req = {
      model: f.model, messages: [{ role: 'user', content: 'Add 2 and 3.' }], max_tokens: 60, seed: 21, ...NO_THINK,
      functions: [WEATHER_TOOLS[1]!.function], function_call: { name: 'add' },
    } as Record<string, unknown>;
    const r = await f.openai.chat.completions.create(req as never) as OpenAI.Chat.Completions.ChatCompletion;
    const ch = r.choices[0]!;
    expect(ch.finish_reason).toBe('function_call');
    expect(ch.message.tool_calls).toBeUndefined();
    const fc = ch.message.function_call!;
    expect(fc.name).toBe('add');
    const args = JSON.parse(fc.arguments);
    expect(Object.keys(args).sort()).toEqual(['a', 'b']);
    const s = await collect(await f.openai.chat.completions.create({ ...req, stream: true } as never) as unknown as AsyncIterable<Chunk>);
    expect(s.finish).toBe('function_call');
    expect(s.fc).toEqual({ name: 'add', arguments: fc.arguments });
    // The legacy history (assistant function_call, role function) continues the conversation.
    const next = await f.openai.chat.completions.create({
      ...req, function_call: 'auto', max_tokens: 4,
      messages: [...(req.messages as object[]), { role: 'assistant', content: null, function_call: fc }, { role: 'function', name: 'add', content: '5' }],
    } as never) as OpenAI.Chat.Completions.ChatCompletion;
    expect(next.choices[0]!.message.role).toBe('assistant');
  });

  it('--model-alias names are listed by /v1/models and answered under the name asked for', async () => {
    const list = await f.openai.models.list();
    expect(list.data.map((m) => m.id)).toEqual([f.model, ALIAS]);
    expect((await f.openai.models.retrieve(ALIAS)).id).toBe(ALIAS);
    const r = await f.openai.chat.completions.create({ model: ALIAS, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, ...NO_THINK } as never) as OpenAI.Chat.Completions.ChatCompletion;
    expect(r.model).toBe(ALIAS);
    await expect(f.openai.chat.completions.create({ model: 'gpt-unknown', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 })).rejects.toMatchObject({ status: 404 });
  });
});
