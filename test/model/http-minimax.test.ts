/**
 * A MiniMax-M2 model folder served end to end (`tiny-minimax`: Qwen3's vocabulary + the MiniMax markers, the MiniMax
 * template): the OpenAI chat API opens the turn with MiniMax's generation prompt (`]~b]ai\n<think>\n`), constrains tool
 * calls to the `<minimax:tool_call>` form chosen by the template (no flag), parses them back typed and valid, streamed
 * = non-streamed; the next request (assistant tool call + tool result + user) continues the same resident context.
 * The random model is steered out of its reasoning with `logit_bias` on `</think>`; the tools' closed schemas force
 * every value to end (validity is the grammar's doing).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../support/models.js';
import { startTestServer, testAjv, WEATHER_TOOLS, type TestServer } from './http-support.js';

const THINK_CLOSE = 151668; // '</think>' in Qwen3's vocabulary
let srv: TestServer;
let openai: OpenAI;
let model: string;

beforeAll(async () => {
  const m = await ensureModel('tiny-minimax', 'f32');
  srv = await startTestServer({ model: m.dir, defaultMaxTokens: 64 });
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  model = srv.host.modelId;
}, 300_000);
afterAll(async () => srv?.close());

describe('MiniMax-M2 over the OpenAI chat API', () => {
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are a weather agent.' },
    { role: 'user', content: 'Add 2 and 40, please.' },
  ];
  const req = { model, messages, tools: WEATHER_TOOLS, tool_choice: { type: 'function' as const, function: { name: 'add' } }, parallel_tool_calls: false, temperature: 0, max_tokens: 160, logit_bias: { [THINK_CLOSE]: 100 } };

  it('a forced call comes back in the MiniMax form, parsed, typed and valid; streamed = non-streamed', async () => {
    const r = await openai.chat.completions.create(req);
    const msg = r.choices[0]!.message;
    expect(r.choices[0]!.finish_reason, JSON.stringify(msg)).toBe('tool_calls');
    expect(msg.tool_calls).toHaveLength(1);
    const call = msg.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('add');
    const args = JSON.parse((call as { function: { arguments: string } }).function.arguments) as Record<string, unknown>;
    expect(testAjv.compile(WEATHER_TOOLS[1]!.function.parameters)(args)).toBe(true);
    expect(typeof args.a).toBe('number');

    const stream = await openai.chat.completions.create({ ...req, stream: true });
    let streamedArgs = '';
    let name = '';
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += tc.function?.name ?? '';
        streamedArgs += tc.function?.arguments ?? '';
      }
    }
    expect(name).toBe('add');
    expect(JSON.parse(streamedArgs)).toEqual(args);

    // the next turn: the call, its result and a new question continue the same context
    const next = await openai.chat.completions.create({
      model, temperature: 0, max_tokens: 16, tools: WEATHER_TOOLS, logit_bias: { [THINK_CLOSE]: 100 },
      messages: [...messages, { role: 'assistant', content: msg.content ?? '', tool_calls: msg.tool_calls }, { role: 'tool', tool_call_id: call.id, content: '42' }, { role: 'user', content: 'And the weather in Oslo?' }],
    });
    expect(next.choices[0]!.finish_reason).toMatch(/^(stop|length|tool_calls)$/);
    expect(next.usage!.prompt_tokens).toBeGreaterThan(r.usage!.prompt_tokens);
  }, 300_000);
});
