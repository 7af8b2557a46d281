/**
 * Load benchmark of the HTTP server: for each client count (default 1, 8, 32), that many concurrent streaming
 * chat clients for D seconds against `resident serve` (a child process on the demo model or --model; or an
 * existing --url). Each client holds multi-turn conversations (resending the full history, as OpenAI clients
 * do). Per level: total tokens/s, time to first token p50/p99, inter-token latency p50/p99 and — from the same
 * run, after the server stopped — the engine-only batched decode rate of as many sequences
 * (`resident bench --sessions N`) and the ratio end-to-end / engine-only.
 * With --prefill-probe N: inter-token latency of 7 decoding streams before and while an 8th request prefills an
 * N-token prompt (goal: p99 during ≤ 3 × p50 before); the decoders never sample a token that is not whole characters.
 * With --conversations C each client keeps C conversations and takes turns among them (more conversations
 * than slots: resident sessions spill and come back, llama-server re-prefills or restores its RAM cache);
 * --system-chars N pads each conversation's system prompt (so what a slot forgets costs).
 * With --llama-server (and --gguf FILE of the same weights): the same clients against the natively built
 * llama-server (bench/llama-server.ts) with --parallel equal to our slots, prompt caching on, --fa on|off.
 * One JSON line per level / probe on stdout.
 *
 *   npx tsx bench/load.ts [--clients 1,8,32] [--duration 20] [--max-tokens 64] [--turns 4] [--model DIR]
 *                         [--threads N] [--prefill-probe 16000] [--url URL] [--server-args "--durability strict"]
 *                         [--slots N] [--conversations C] [--system-chars N] [--llama-server --gguf FILE --fa on|off]
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../engine/tokens/load-tokenizer.js';
import { startLlamaServer } from './llama-server.js';
import { engineOnlyRate, pct, startServer, streamTurn, type Server } from './load-support.js';

const { values: a } = parseArgs({
  options: {
    clients: { type: 'string', default: '1,8,32' },
    duration: { type: 'string', default: '20' },
    'max-tokens': { type: 'string', default: '64' },
    turns: { type: 'string', default: '4' },
    model: { type: 'string' },
    threads: { type: 'string' },
    url: { type: 'string' },
    'api-key': { type: 'string' },
    'prefill-probe': { type: 'string', default: '0' },
    'server-args': { type: 'string', default: '' },
    slots: { type: 'string' },
    conversations: { type: 'string', default: '1' },
    'system-chars': { type: 'string', default: '0' },
    'llama-server': { type: 'boolean', default: false },
    gguf: { type: 'string' },
    fa: { type: 'string', default: 'off' },
  },
});
const anchor = a['llama-server']!;
const conversations = Number(a.conversations);
const systemPad = 'Follow the project conventions; keep answers short and exact. '.repeat(Math.ceil(Number(a['system-chars']) / 62)).slice(0, Number(a['system-chars']));
/** Per request: llama-server keeps the prompt's KV for the slot's next request (its default, sent explicitly). */
const extra: Record<string, unknown> = anchor ? { cache_prompt: true } : {};
const levels = a.clients!.split(',').map(Number);
const durationMs = Number(a.duration) * 1000;
const maxTokens = Number(a['max-tokens']);
const turns = Number(a.turns);
const probe = Number(a['prefill-probe']);
const headers: Record<string, string> = a['api-key'] ? { authorization: `Bearer ${a['api-key']}` } : {};
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

interface Stats {
  /** Prompt tokens of each request, and of those the ones the server prefilled (not in a session's KV). */
  prompts: number[];
  prefilled: number[];
  requests: number;
  errors: string[];
  ttft: number[];
  itl: number[];
  tokens: number;
}

async function client(k: number, url: string, model: string, deadline: number, st: Stats): Promise<void> {
  let next = 0;
  const fresh = () => ({ messages: [{ role: 'system', content: `You are load-test assistant ${k}.${next++}. Answer briefly.${systemPad ? `\n${systemPad}` : ''}` }] as unknown[], turn: 0 });
  const convs = Array.from({ length: conversations }, fresh);
  for (let i = 0; performance.now() < deadline; i++) {
    const c = i % conversations;
    if (convs[c]!.turn >= turns) convs[c] = fresh();
    const conv = convs[c]!;
    const t = conv.turn++;
    conv.messages.push({ role: 'user', content: `Client ${k}, conversation ${c}, question ${t}: tell me something about the number ${k * 100 + t}.` });
    try {
      const r = await streamTurn(url, { model, messages: conv.messages, max_tokens: maxTokens, temperature: 0.8, seed: k * 1000 + i, chat_template_kwargs: { enable_thinking: false }, ...extra }, headers);
      st.requests++;
      st.prompts.push(r.promptTokens);
      st.prefilled.push(r.prefilled);
      st.ttft.push(r.ttft);
      st.itl.push(...r.gaps.map((g) => g.ms));
      st.tokens += r.completionTokens;
      conv.messages.push({ role: 'assistant', content: r.content });
    } catch (e) {
      st.errors.push((e as Error).message);
      convs[c] = fresh();
    }
  }
}

async function level(url: string, model: string, n: number) {
  const st: Stats = { prompts: [], prefilled: [], requests: 0, errors: [], ttft: [], itl: [], tokens: 0 };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, k) => client(k, url, model, t0 + durationMs, st)));
  const secs = (performance.now() - t0) / 1000;
  return {
    clients: n, duration_s: +secs.toFixed(1), requests: st.requests, errors: st.errors.length, first_errors: st.errors.slice(0, 3),
    tokens_per_s: +(st.tokens / secs).toFixed(1),
    prompt_tokens_p50: pct(st.prompts, 50),
    // work besides decoding: tokens the server prefilled per generated token (the engine-only rate is decode alone)
    prefilled_tokens_p50: pct(st.prefilled, 50),
    prefilled_per_generated: +(st.prefilled.reduce((x, y) => x + y, 0) / Math.max(1, st.tokens)).toFixed(2),
    ttft_ms: { p50: pct(st.ttft, 50), p99: pct(st.ttft, 99) },
    itl_ms: { p50: pct(st.itl, 50), p99: pct(st.itl, 99) },
  };
}

/** 7 streams decode; then an 8th request prefills `n` tokens: the 7 streams' inter-token gaps before and during. */
async function prefillProbe(server: { url: string; modelDir: string }, model: string, n: number) {
  const tok = await loadTokenizer(server.modelDir);
  const ban: Record<string, number> = {};
  for (const t of ['<|im_end|>', '<|endoftext|>']) ban[String(tok.encode(t, { allowSpecial: true })[0])] = -100;
  // tokens that are not whole characters (lone UTF-8 bytes, which random weights sample often) are held back by any
  // server until the character completes: two tokens' gap in one chunk. Banned, so each chunk is one token's latency.
  for (let id = 0; id < tok.vocabSize; id++) {
    try {
      if (tok.decode([id]).includes('\uFFFD')) ban[String(id)] = -100;
    } catch {
      // an id the vocabulary leaves unassigned: the server never samples it
    }
  }
  let text = '';
  for (let i = 0; tok.encode(text).length < n; i++) text += `item ${i * 7919 % 10007} of the long document, line ${i}. `.repeat(64);
  const ids = tok.encode(text);
  text = tok.decode(ids.slice(0, n));
  const stop = new AbortController();
  const decoders = Array.from({ length: 7 }, (_, k) =>
    streamTurn(server.url, { model, messages: [{ role: 'user', content: `decoder ${k}` }], max_tokens: 1500, temperature: 0.8, seed: k, logit_bias: ban, chat_template_kwargs: { enable_thinking: false }, ...extra }, headers, stop.signal),
  );
  // a refused request rejects at once: handled here, rethrown by Promise.all below (so the server is still stopped)
  for (const d of decoders) d.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 6000));
  const p0 = performance.now();
  const long = await streamTurn(server.url, { model, messages: [{ role: 'user', content: text }], max_tokens: 2, chat_template_kwargs: { enable_thinking: false }, ...extra }, headers);
  const p1 = performance.now();
  await new Promise((r) => setTimeout(r, 500));
  stop.abort();
  const runs = await Promise.all(decoders);
  const gaps = runs.flatMap((r) => r.gaps);
  const before = gaps.filter((g) => g.at > p0 - 4000 && g.at <= p0).map((g) => g.ms);
  const during = gaps.filter((g) => g.at > p0 && g.at <= p1).map((g) => g.ms);
  const ratio = pct(during, 99)! / pct(before, 50)!;
  return {
    probe: 'itl during a long prefill', decoders: 7, prefill_tokens: long.promptTokens, prefill_request_ms: +long.total.toFixed(0),
    itl_before_ms: { p50: pct(before, 50), p99: pct(before, 99), n: before.length },
    itl_during_ms: { p50: pct(during, 50), p99: pct(during, 99), n: during.length },
    p99_during_over_p50_before: +ratio.toFixed(2), goal: '≤ 3',
  };
}

async function main(): Promise<void> {
  const most = Math.max(...levels, probe ? 8 : 0);
  const slots = a.slots ? Number(a.slots) : most + 8;
  const context = Math.max(4096, probe + 2048);
  const threads = a.threads ? Number(a.threads) : undefined;
  type Running = { url: string; modelDir: string; stop?: () => Promise<void>; dataDir?: string; log?: () => string };
  let server: Running;
  if (anchor) {
    if (!a.gguf) throw new Error('--llama-server needs --gguf FILE (the same weights as --model)');
    const { defaultThreads } = await import('../engine/native.js');
    // per slot what a client's conversation holds (f16 KV: 32 slots × 4096 would be 15 GB on qwen3-0.6b); a probe's prompt more
    const perSlot = probe ? probe + 2048 : 2048;
    const ls = await startLlamaServer({ gguf: a.gguf, parallel: slots, context: perSlot, threads: threads ?? defaultThreads(), fa: a.fa === 'on' ? 'on' : 'off' });
    server = { url: ls.url, modelDir: a.model ?? '', stop: () => ls.stop() };
    process.stderr.write(`llama-server ${ls.args.join(' ')}\n`);
  } else {
    const args = ['--slots', String(slots), '--chat-sessions', String(Math.max(most * 4, most * conversations * 2)), '--context', String(context)];
    if (a.model) args.push('--model', a.model);
    if (a.threads) args.push('--threads', a.threads);
    args.push(...a['server-args']!.split(' ').filter(Boolean));
    server = a.url ? { url: a.url.replace(/\/v1\/?$/, ''), modelDir: a.model ?? '' } : ((await startServer(args)) satisfies Server);
  }
  const rows: Record<string, unknown>[] = [];
  let model = '';
  try {
    model = (await (await fetch(`${server.url}/v1/models`, { headers })).json()).data[0].id as string;
    if (server.log) process.stderr.write(server.log());
    // one short request before measuring (first-use costs of either server stay out of the figures)
    await streamTurn(server.url, { model, messages: [{ role: 'user', content: 'warm up' }], max_tokens: 4, chat_template_kwargs: { enable_thinking: false }, ...extra }, headers);
    for (const n of levels) {
      const r = await level(server.url, model, n);
      process.stderr.write(`${n} clients: ${r.tokens_per_s} tok/s\n`);
      rows.push(r);
    }
    if (probe > 0) rows.push(await prefillProbe(server, model, probe));
  } finally {
    await server.stop?.();
  }
  // engine-only from the same run (server stopped: the engine alone on the machine), as `resident bench --sessions N`
  if (server.modelDir && !anchor) {
    for (const r of rows) {
      if (typeof r.clients !== 'number') continue;
      const promptP50 = (r.prompt_tokens_p50 as number | null) ?? 0;
      const eng = await engineOnlyRate(server.modelDir, r.clients, { prompt: 64, decode: maxTokens, threads: a.threads ? Number(a.threads) : undefined, prefillOf: promptP50 > 0 ? Math.round(promptP50) : undefined });
      r.engine_only_tok_s = +eng.rate.toFixed(1);
      r.end_to_end_over_engine = +((r.tokens_per_s as number) / eng.rate).toFixed(3);
      if (eng.prefillMs !== undefined) {
        // the engine alone prefilling one prompt of the median size; goal: TTFT p99 < 2 × this
        r.engine_prefill_ms = eng.prefillMs;
        r.ttft_p99_over_engine_prefill = +(((r.ttft_ms as { p99: number }).p99) / eng.prefillMs).toFixed(2);
      }
    }
  }
  for (const r of rows) out({ bench: 'load', server: anchor ? `llama-server -fa ${a.fa}` : 'resident', model, slots, conversations_per_client: conversations, system_chars: systemPad.length, max_tokens: maxTokens, ...r });
  if (server.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  if (rows.some((r) => (r.errors as number) > 0)) process.exitCode = 1;
}

await main();
