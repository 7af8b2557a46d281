/**
 * End to end through the HTTP server with the tiny model (random BF16 weights): 500 tool-call generations over
 * 50 real tool schemas (BFCL functions from the shared folder's MaskBench) under tool_choice required / auto / named.
 * Every call parses and validates against its tool's parameters (ajv), and a streamed run yields the same
 * calls as the non-streamed one. A random model never closes a JSON string on its own (1 token in 151k), so
 * the requests lean it towards short values with OpenAI `logit_bias` on closing tokens (`"`, `}`, `]`, `,` and
 * their combinations, those with a quote most) and a small frequency penalty against loops, and send the tools as OpenAI strict-mode tools do
 * (`additionalProperties: false` on objects that list properties, so keys come from the schema). The bias never
 * unmasks a token the grammar forbids: validity is still the grammar's doing. Calls are validated against the
 * sent schema and against the original one. In auto mode `<tool_call>` gets no more bias than the quoted closers, so the
 * model itself chooses between text and a call at every free-text position: turns that call, turns that write text
 * first, and turns that never call must all occur, and none may leak call markup into the text.
 */
import OpenAI from 'openai';
import _Ajv from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSchema } from '../../engine/grammar/schema/schema-compiler.js';
import { startTestServer, type TestServer } from './http-support.js';
import { sharedData } from '../support/shared.js';

type AjvCtor = new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } };
const Ajv = ((_Ajv as unknown as { default?: AjvCtor }).default ?? _Ajv) as unknown as AjvCtor;
const ajv = new Ajv({ strict: false, validateFormats: false });

const need = sharedData('tool calls end to end on BFCL schemas (MaskBench)', 'json-schema/maskbench');
const [MB] = need.paths;
const N_TOOLS = 50;
const N_GENERATIONS = 500;
const STREAM_EVERY = 10;
const CONCURRENCY = 8;
/** The `<tool_call>` bias in auto mode: equal to the quoted closers' (60), so it does not decide the call by itself. */
const AUTO_CALL_BIAS = 60;

interface Tool {
  name: string;
  /** As sent: strict-mode (`additionalProperties: false` where properties are listed). */
  parameters: Record<string, unknown>;
  validate: (v: unknown) => boolean;
  validateOriginal: (v: unknown) => boolean;
}

/** OpenAI strict-mode style: objects that list properties get `additionalProperties: false` unless they say otherwise. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' && v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.properties && typeof out.properties === 'object' && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

/** BFCL function schemas (`anyOf: [{properties: {<function name>: <parameters>}}]`): first N distinct ones that compile. */
function bfclTools(n: number): Tool[] {
  const out: Tool[] = [];
  const seen = new Set<string>();
  const files = readdirSync(MB).filter((f) => /^BFCL_(simple|multiple|parallel)_\d+\.json$/.test(f)).sort();
  for (const f of files) {
    const s = (JSON.parse(readFileSync(join(MB, f), 'utf8')) as { schema: { anyOf?: unknown[]; properties?: unknown } }).schema;
    for (const branch of s.anyOf ?? [s]) {
      const props = (branch as { properties?: Record<string, unknown> }).properties ?? {};
      for (const [raw, parameters] of Object.entries(props)) {
        const name = raw.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
        if (seen.has(name) || !parameters || typeof parameters !== 'object' || (parameters as { type?: unknown }).type !== 'object') continue;
        const sent = strict(parameters) as Record<string, unknown>;
        try {
          compileSchema(sent);
        } catch {
          continue;
        }
        seen.add(name);
        out.push({ name, parameters: sent, validate: ajv.compile(sent), validateOriginal: ajv.compile(parameters as object) });
        if (out.length === n) return out;
      }
    }
  }
  return out;
}

let srv: TestServer | undefined;
let skip = need.skip;
let client: OpenAI;
let model = '';
let tools: Tool[] = [];

beforeAll(async () => {
  if (skip) return;
  // the default activations: bf16 on AVX512_BF16 CPUs, where the streamed re-run (its prefix reused) must still match
  const s = await startTestServer({ contextTokens: 4096, defaultMaxTokens: 256 }, { dtype: 'bf16' });
  if (typeof s === 'string') skip = s;
  else {
    srv = s;
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    model = s.host.modelId;
    tools = bfclTools(N_TOOLS);
  }
});
afterAll(async () => srv?.close());

type Call = { name: string; arguments: string };

/** The request of generation g: three tools, a tool_choice mode, a seed, the bias that lets a random model finish. */
function requestOf(g: number, t: { closers: number[]; quoted: Set<number>; callTok: number; endTok: number }) {
  const group = [0, 1, 2].map((k) => tools[(g + k * 17) % N_TOOLS]!);
  const mode = (['required', 'auto', 'named'] as const)[g % 3]!;
  const bias: Record<string, number> = {};
  for (const c of t.closers) bias[c] = t.quoted.has(c) ? 60 : 40;
  // `<|im_end|>` is only allowed where the answer may end (before a call in auto mode, after a call)
  bias[t.endTok] = 40;
  // auto: `<tool_call>` gets the quoted closers' bias, no more — at every free-text position the model's own logits
  // choose between starting the call and writing text, so calls come after text of the model's choosing (or never)
  if (mode === 'auto') bias[t.callTok] = AUTO_CALL_BIAS;
  const body = {
    model,
    messages: [{ role: 'user' as const, content: `Use a tool (${g}).` }],
    tools: group.map((x) => ({ type: 'function' as const, function: { name: x.name, parameters: x.parameters } })),
    tool_choice: mode === 'named' ? { type: 'function' as const, function: { name: group[0]!.name } } : mode,
    // auto's `<tool_call>` bias would start call after call: one call there, and in every other turn
    parallel_tool_calls: mode === 'auto' || g % 2 === 0 ? false : undefined,
    seed: g,
    temperature: 1,
    frequency_penalty: 0.3,
    max_tokens: 256,
    logit_bias: bias,
    chat_template_kwargs: { enable_thinking: false },
  } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
  return { group, mode, body, where: `generation ${g} (${mode}, tools ${group.map((x) => x.name).join(', ')})` };
}

type Request = ReturnType<typeof requestOf>;

/**
 * Every call names one of the request's tools (the forced one if named) and its arguments pass ajv; the text
 * beside them carries no call markup. required / named: the turn ends in calls. auto: in calls, or in text alone.
 */
function checkCalls(r: Request, finish: string | null, calls: Call[], message: unknown, content: string): void {
  const where = `${r.where}: ${JSON.stringify(message)}`;
  expect(r.mode === 'auto' ? ['tool_calls', 'stop', 'length'] : ['tool_calls'], where).toContain(finish);
  // 'tool_calls': at least one call; 'stop': none; 'length' (auto: text ran long): at most the one it cut
  expect(finish === 'tool_calls' ? calls.length >= 1 : finish === 'stop' ? calls.length === 0 : calls.length <= 1, where).toBe(true);
  expect(calls.length, where).toBeLessThanOrEqual(r.body.parallel_tool_calls === false ? 1 : 8);
  expect(content, where).not.toMatch(/<\/?tool_call>|<\|im_end\|>/);
  const allowed = r.mode === 'named' ? [r.group[0]!.name] : r.group.map((x) => x.name);
  for (const c of calls) expect(allowed, where).toContain(c.name);
  for (const c of finish === 'length' ? calls.slice(0, -1) : calls) {
    const t = r.group.find((x) => x.name === c.name);
    const args = JSON.parse(c.arguments) as unknown;
    expect(t!.validate(args), `${r.where}: ${c.arguments}`).toBe(true);
    expect(t!.validateOriginal(args), `${r.where}: ${c.arguments}`).toBe(true);
  }
}

async function complete(r: Request): Promise<{ finish: string | null; calls: Call[]; message: unknown; content: string }> {
  const res = await client.chat.completions.create(r.body);
  const choice = res.choices[0]!;
  const calls = (choice.message.tool_calls ?? []).map((c) => ({ name: (c as { function: Call }).function.name, arguments: (c as { function: Call }).function.arguments }));
  return { finish: choice.finish_reason, calls, message: choice.message, content: choice.message.content ?? '' };
}

async function completeStreamed(r: Request): Promise<{ finish: string | null; calls: Call[]; content: string }> {
  const stream = await client.chat.completions.create({ ...r.body, stream: true });
  const calls: Call[] = [];
  let finish: string | null = null;
  let content = '';
  for await (const ch of stream) {
    for (const c of ch.choices) {
      content += c.delta.content ?? '';
      for (const d of c.delta.tool_calls ?? []) {
        const call = (calls[d.index] ??= { name: '', arguments: '' });
        call.name += d.function?.name ?? '';
        call.arguments += d.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { finish, calls, content };
}

describe('tool calls end to end (tiny model, real tool schemas)', () => {
  it(`${N_GENERATIONS} generations under required / auto / named all parse and validate; streamed = non-streamed`, async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tools.length).toBe(N_TOOLS);
    const tok = srv!.host.tokenizer;
    // single tokens that close strings, arrays and objects or end numbers; those with a quote get the larger bias
    const closers = ['"', '"}', '"]', '",', '"},', '"}}', '"]}', '}', ']', '},', '],', '}}', ']}', ','].map((c) => tok.tokenToId(c)!);
    expect(closers.every((c) => c !== undefined)).toBe(true);
    const t = { closers, quoted: new Set(closers.filter((c) => tok.decode([c]).includes('"'))), callTok: tok.tokenToId('<tool_call>')!, endTok: tok.tokenToId('<|im_end|>')! };
    const stats = { required: 0, auto: 0, named: 0, calls: 0, streamed: 0, autoCalls: 0, autoTextFirst: 0, autoTextOnly: 0 };
    // CONCURRENCY requests at a time: the scheduler batches their decode steps
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < N_GENERATIONS) {
        const r = requestOf(next++, t);
        const got = await complete(r);
        checkCalls(r, got.finish, got.calls, got.message, got.content);
        stats[r.mode]++;
        stats.calls += got.calls.length;
        const called = got.finish === 'tool_calls';
        stats.autoCalls += r.mode === 'auto' && called ? 1 : 0;
        stats.autoTextFirst += r.mode === 'auto' && called && got.content.trim() ? 1 : 0;
        stats.autoTextOnly += r.mode === 'auto' && !got.calls.length ? 1 : 0;
      }
    }));
    // streamed vs non-streamed, one request at a time so both see the same batch shapes (same logits)
    for (let g = 0; g < N_GENERATIONS; g += STREAM_EVERY) {
      const r = requestOf(g, t);
      const plain = await complete(r);
      const streamed = await completeStreamed(r);
      checkCalls(r, streamed.finish, streamed.calls, streamed, streamed.content);
      expect(streamed.calls, `${r.where}: streamed`).toEqual(plain.calls);
      expect(streamed.finish, `${r.where}: streamed`).toBe(plain.finish);
      stats.streamed++;
    }
    console.log(`tool-call e2e: ${JSON.stringify(stats)}`);
    expect(stats.required + stats.auto + stats.named).toBe(N_GENERATIONS);
    // auto is the model's choice: many turns call (measured 114/167), most after text of their own (103), and some
    // never call (48) — a bias that decided the call (the former +100) leaves no text-only turn and fails here
    expect(stats.autoCalls, JSON.stringify(stats)).toBeGreaterThan(stats.auto / 3);
    expect(stats.autoTextFirst, JSON.stringify(stats)).toBeGreaterThan(stats.auto / 5);
    expect(stats.autoTextOnly, JSON.stringify(stats)).toBeGreaterThan(stats.auto / 20);
  }, 900_000);
});
