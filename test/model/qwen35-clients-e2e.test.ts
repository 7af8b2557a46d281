/**
 * Real clients on a Qwen3.5 model: `resident serve` on the `qwen3.5-0.8b` preset (real shapes, random
 * BF16 weights) with Qwen3.5's tokenizer (built from the shared vocabulary) and chat template, so tool
 * calls are the template's XML form under the XML grammar. The `openai` client and the MCP SDK client
 * each run a three-turn tool-calling conversation (tool call → tool result → …), streamed and not:
 * every call names a tool, validates against its schema (ajv), and reasoning comes apart from content.
 * A random model never ends its reasoning on its own (1 token in 248k), so requests raise `</think>`
 * with `logit_bias` (the grammar still decides what may follow); tool schemas are short and bounded
 * so each turn stays within a few dozen tokens. Image and video content (the Qwen3.5 template renders
 * them; we run the text model only) is a 400 `unsupported_content` in all three APIs.
 */
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../support/models.js';
import { sharedData } from '../support/shared.js';
import { startTestServer, testAjv, WEATHER_TOOLS, type TestServer } from './http-support.js';

const TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', minLength: 1, maxLength: 8 }, unit: { enum: ['c', 'f'] }, note: { type: ['string', 'null'], maxLength: 4 } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
  WEATHER_TOOLS[1]!, // add(a, b)
];
const VALIDATE = new Map(TOOLS.map((t) => [t.function.name, testAjv.compile(t.function.parameters)]));
const MAX_TOKENS = 96;
/** Bias on `</think>`: reasoning of a few tokens from the random model, then the call. */
const THINK_BIAS = 40;

let srv: TestServer | undefined;
let openai: OpenAI;
let model = '';
let thinkClose = 0;

// Qwen3.5's tokenizer is built from the shared vocabulary: without the shared folder these skip with that reason
const need = sharedData('real clients on qwen3.5-0.8b with the Qwen3.5 tokenizer', 'qwen35-vocab');

beforeAll(async () => {
  if (need.skip) return;
  const dir = (await ensureModel('qwen3.5-0.8b', 'bf16', { qwen35Tokenizer: true })).dir;
  srv = await startTestServer({ contextTokens: 2048, defaultMaxTokens: MAX_TOKENS, slots: 2 }, { model: dir });
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
  model = srv.host.modelId;
  expect(srv.host.template.toolCallFormat?.body).toBe('xml');
  thinkClose = srv.host.tokenizer.tokenToId('</think>')!;
  expect(thinkClose).toBeGreaterThan(0);
}, 900_000);
afterAll(async () => srv?.close());

interface Call {
  id: string;
  name: string;
  arguments: string;
}

/**
 * The call names a tool and its arguments validate; reasoning and content carry no tags. Returns 1 when the turn
 * reasoned: with `</think>` raised, a sampled turn may close its reasoning at once (which turns do depends on the
 * CPU's last bits), so each client's test requires reasoning in some of its turns, not in every one.
 */
function checkTurn(where: string, t: { calls: Call[]; reasoning: string; content: string; finish: string | null }): number {
  expect(t.finish, `${where}: ${JSON.stringify(t)}`).toBe('tool_calls');
  expect(t.calls.length, where).toBe(1);
  for (const c of t.calls) {
    const v = VALIDATE.get(c.name);
    expect(v, `${where}: unknown tool ${c.name}`).toBeDefined();
    expect(v!(JSON.parse(c.arguments)), `${where}: ${c.name}(${c.arguments})`).toBe(true);
    expect(c.id).toMatch(/^call_/);
  }
  for (const text of [t.reasoning, t.content]) expect(text, where).not.toMatch(/<\/?think>|<\/?tool_call>|<function=|<parameter=/);
  return t.reasoning.length > 0 ? 1 : 0;
}

/** A tool result for a call (what the client's tool would answer). */
const resultOf = (c: Call) => JSON.stringify({ ok: true, tool: c.name, echo: JSON.parse(c.arguments) });

describe.skipIf(!!need.skip)('real clients on qwen3.5-0.8b (XML tool calls, reasoning)', () => {
  it('the openai client: three tool-calling turns, non-streamed and streamed', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You use tools.' },
      { role: 'user', content: 'What is the weather in Oslo, and what is 2 + 3?' },
    ];
    const base = { model, tools: TOOLS, tool_choice: 'required' as const, parallel_tool_calls: false, max_tokens: MAX_TOKENS, temperature: 1, logit_bias: { [thinkClose]: THINK_BIAS } };
    let reasoned = 0;
    for (let turn = 0; turn < 3; turn++) {
      const where = `openai turn ${turn}`;
      let got: { calls: Call[]; reasoning: string; content: string; finish: string | null };
      if (turn !== 1) {
        const r = await openai.chat.completions.create({ ...base, messages, seed: 100 + turn });
        const m = r.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
        got = {
          calls: (m.tool_calls ?? []).map((c) => ({ id: c.id, name: (c as { function: { name: string } }).function.name, arguments: (c as { function: { arguments: string } }).function.arguments })),
          reasoning: m.reasoning_content ?? '', content: m.content ?? '', finish: r.choices[0]!.finish_reason,
        };
      } else {
        const stream = await openai.chat.completions.create({ ...base, messages, seed: 100 + turn, stream: true });
        got = { calls: [], reasoning: '', content: '', finish: null };
        let chunks = 0;
        for await (const ch of stream) {
          chunks++;
          for (const c of ch.choices) {
            const d = c.delta as typeof c.delta & { reasoning_content?: string };
            got.reasoning += d.reasoning_content ?? '';
            got.content += d.content ?? '';
            for (const tc of d.tool_calls ?? []) {
              const call = (got.calls[tc.index] ??= { id: '', name: '', arguments: '' });
              call.id ||= tc.id ?? '';
              call.name += tc.function?.name ?? '';
              call.arguments += tc.function?.arguments ?? '';
            }
            if (c.finish_reason) got.finish = c.finish_reason;
          }
        }
        expect(chunks, where).toBeGreaterThan(3);
      }
      reasoned += checkTurn(where, got);
      const c = got.calls[0]!;
      messages.push({ role: 'assistant', content: got.content || null, tool_calls: [{ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }] });
      messages.push({ role: 'tool', tool_call_id: c.id, content: resultOf(c) });
    }
    expect(reasoned, 'turns with reasoning apart from the call').toBeGreaterThan(0);
  }, 300_000);

  it('the MCP client: a session with tools, three tool-calling turns, with progress', async () => {
    const client = new Client({ name: 'qwen35-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${srv!.url}/mcp`)));
    try {
      const structured = (r: unknown) => {
        const x = r as { isError?: boolean; content?: unknown; structuredContent?: Record<string, unknown> };
        if (x.isError) throw new Error(`tool call failed: ${JSON.stringify(x.content)}`);
        return x.structuredContent!;
      };
      const created = structured(await client.callTool({ name: 'session_create', arguments: { tools: TOOLS, messages: [{ role: 'system', content: 'You use tools.' }] } }));
      const id = created.session_id as string;
      let next: unknown[] = [{ role: 'user', content: 'Weather in Rome? Then add 4 and 5.' }];
      let reasoned = 0;
      for (let turn = 0; turn < 3; turn++) {
        const where = `mcp turn ${turn}`;
        const progress: string[] = [];
        const r = structured(await client.callTool(
          { name: 'session_generate', arguments: { session_id: id, messages: next, tool_choice: 'required', parallel_tool_calls: false, max_tokens: MAX_TOKENS, temperature: 1, seed: 200 + turn, logit_bias: { [thinkClose]: THINK_BIAS } } },
          undefined,
          { onprogress: (p) => progress.push(p.message ?? ''), resetTimeoutOnProgress: true, timeout: 300_000 },
        ));
        const calls = r.tool_calls as Call[];
        const reasoning = (r.reasoning_content as string | undefined) ?? '';
        checkTurn(where, { calls, reasoning, content: (r.content as string | null) ?? '', finish: r.finish_reason as string });
        // streamed as progress (at most every 100 ms): the prompt, reasoning pieces (only of a turn that reasoned), the call's events
        expect(progress.some((m) => /^prompt ready/.test(m)), where).toBe(true);
        const streamedReasoning = progress.some((m) => m === 'reasoning');
        expect(!streamedReasoning || reasoning !== '', `${where}: reasoning progress without reasoning`).toBe(true);
        if (streamedReasoning) reasoned++;
        expect(progress.some((m) => m === 'tool_call_start'), where).toBe(true);
        if (turn > 0) expect((r.usage as { reused_tokens: number }).reused_tokens, `${where}: the history stays resident`).toBeGreaterThan(300);
        next = calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: resultOf(c) }));
      }
      expect(reasoned, 'turns whose reasoning streamed as progress').toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  }, 300_000);

  it('image and video content is a 400 unsupported_content in chat completions, responses and messages', async () => {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${srv!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { error: { code?: string; message: string; param?: string } } };
    };
    const url = 'data:image/png;base64,iVBORw0KGgo=';
    const cases: [string, string, unknown][] = [
      ['chat image', '/v1/chat/completions', { model, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] }] }],
      ['chat video', '/v1/chat/completions', { model, messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x.example/v.mp4' } }] }] }],
      ['responses image', '/v1/responses', { model, input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: url }] }] }],
      ['responses video', '/v1/responses', { model, input: [{ role: 'user', content: [{ type: 'input_video', video_url: 'https://x.example/v.mp4' }] }] }],
      ['messages image', '/v1/messages', { model, max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'What is this?' }] }] }],
      ['messages image in a tool result', '/v1/messages', {
        model, max_tokens: 8, tools: [{ name: 'shot', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'Take a screenshot.' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'shot', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }] },
        ],
      }],
      ['messages video', '/v1/messages', { model, max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'video', source: { type: 'url', url: 'https://x.example/v.mp4' } }] }] }],
    ];
    for (const [what, path, body] of cases) {
      const r = await post(path, body);
      expect(r.status, what).toBe(400);
      expect(r.body.error.code, `${what}: ${JSON.stringify(r.body)}`).toBe('unsupported_content');
      expect(r.body.error.message, what).toMatch(/(image|video) content .*not supported: the model takes text only/);
    }
    const sessions = await (await fetch(`${srv!.url}/v1/sessions`)).json() as { data?: unknown[]; sessions?: unknown[] };
    expect(JSON.stringify(sessions)).not.toMatch(/What is this/); // refused before any session took the messages
  });
});
