/**
 * Load benchmark of the HTTP server: N concurrent streaming chat clients for D seconds against
 * `resident serve` (started as a child process on the demo model or --model, or an existing --url).
 * Each client holds a multi-turn conversation (resending the full history, as OpenAI clients do),
 * then starts a new one. Reports errors, time to first token and per-token latency (p50/p99),
 * throughput and the server's memory before/after, as one JSON line on stdout.
 *
 *   npx tsx bench/load.ts [--clients 32] [--duration 60] [--max-tokens 64] [--turns 4] [--model DIR] [--threads N] [--url URL]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values: a } = parseArgs({
  options: {
    clients: { type: 'string', default: '32' },
    duration: { type: 'string', default: '60' },
    'max-tokens': { type: 'string', default: '64' },
    turns: { type: 'string', default: '4' },
    model: { type: 'string' },
    threads: { type: 'string' },
    url: { type: 'string' },
    'api-key': { type: 'string' },
  },
});
const clients = Number(a.clients);
const durationMs = Number(a.duration) * 1000;
const maxTokens = Number(a['max-tokens']);
const turns = Number(a.turns);

const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((x, y) => x - y);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2);
};

/** Starts `resident serve` on a free port; resolves to its base URL. */
async function startServer(): Promise<{ url: string; child: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'resident-load-'));
  const bin = fileURLToPath(new URL('../bin/resident.js', import.meta.url));
  const args = [bin, 'serve', '--port', '0', '--data', dataDir, '--slots', String(clients + 8), '--chat-sessions', String(clients * 2), '--context', '4096'];
  if (a.model) args.push('--model', a.model);
  if (a.threads) args.push('--threads', a.threads);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /at (http:\/\/[^\s/]+)\/v1/.exec(log);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  return { url, child, dataDir };
}

async function metric(url: string, name: string, headers: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

interface Stats {
  requests: number;
  errors: string[];
  ttft: number[];
  interToken: number[];
  tpot: number[];
  tokens: number;
  prefilled: number;
  reused: number;
}

/** One streamed completion; returns the assistant content. */
async function turn(url: string, headers: Record<string, string>, model: string, messages: unknown[], st: Stats, seed: number): Promise<string | null> {
  const t0 = performance.now();
  let first = -1;
  let last = -1;
  let content = '';
  let finished = false;
  try {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: maxTokens, temperature: 0.8, seed, chat_template_kwargs: { enable_thinking: false } }),
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i).replace(/^data: /, '');
        buf = buf.slice(i + 2);
        if (ev === '[DONE]') {
          finished = true;
          continue;
        }
        const j = JSON.parse(ev);
        if (j.error) throw new Error(`stream error: ${j.error.message}`);
        const d = j.choices?.[0]?.delta;
        if (d && (d.content || d.reasoning_content || d.tool_calls)) {
          const now = performance.now();
          if (first < 0) {
            first = now;
            st.ttft.push(now - t0);
          } else st.interToken.push(now - last);
          last = now;
          content += d.content ?? '';
        }
        if (j.usage) {
          st.tokens += j.usage.completion_tokens;
          st.prefilled += j.usage.prefilled_tokens ?? 0;
          st.reused += j.usage.prompt_tokens_details?.cached_tokens ?? 0;
          if (first >= 0 && j.usage.completion_tokens > 1) st.tpot.push((last - first) / (j.usage.completion_tokens - 1));
        }
      }
    }
    if (!finished) throw new Error('stream ended without [DONE]');
    st.requests++;
    return content;
  } catch (e) {
    st.errors.push((e as Error).message);
    return null;
  }
}

async function client(k: number, url: string, headers: Record<string, string>, model: string, deadline: number, st: Stats): Promise<void> {
  let conv = 0;
  while (performance.now() < deadline) {
    const messages: unknown[] = [{ role: 'system', content: `You are load-test assistant ${k}.${conv}. Answer briefly.` }];
    for (let t = 0; t < turns && performance.now() < deadline; t++) {
      messages.push({ role: 'user', content: `Client ${k}, conversation ${conv}, question ${t}: tell me something about the number ${k * 100 + t}.` });
      const reply = await turn(url, headers, model, messages, st, k * 1000 + conv * 10 + t);
      if (reply === null) break;
      messages.push({ role: 'assistant', content: reply });
    }
    conv++;
  }
}

async function main(): Promise<void> {
  const server = a.url ? { url: a.url.replace(/\/v1\/?$/, ''), child: undefined, dataDir: undefined } : await startServer();
  const headers: Record<string, string> = a['api-key'] ? { authorization: `Bearer ${a['api-key']}` } : {};
  try {
    const model = (await (await fetch(`${server.url}/v1/models`, { headers })).json()).data[0].id as string;
    const rssBefore = await metric(server.url, 'resident_process_resident_memory_bytes', headers);
    const st: Stats = { requests: 0, errors: [], ttft: [], interToken: [], tpot: [], tokens: 0, prefilled: 0, reused: 0 };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, (_, k) => client(k, server.url, headers, model, t0 + durationMs, st)));
    const secs = (performance.now() - t0) / 1000;
    const rssAfter = await metric(server.url, 'resident_process_resident_memory_bytes', headers);
    const steps = await metric(server.url, 'resident_scheduler_steps_total', headers);
    const stepTokens = await metric(server.url, 'resident_scheduler_step_tokens_total', headers);
    const out = {
      bench: 'load', model, clients, duration_s: +secs.toFixed(1), max_tokens: maxTokens, turns_per_conversation: turns,
      requests: st.requests, errors: st.errors.length, first_errors: st.errors.slice(0, 3),
      ttft_ms: { p50: pct(st.ttft, 50), p99: pct(st.ttft, 99) },
      inter_token_ms: { p50: pct(st.interToken, 50), p99: pct(st.interToken, 99) },
      tpot_ms: { p50: pct(st.tpot, 50), p99: pct(st.tpot, 99) },
      tokens_generated: st.tokens, tokens_per_s: +(st.tokens / secs).toFixed(1),
      prompt_tokens_prefilled: st.prefilled, prompt_tokens_reused: st.reused,
      mean_batch_tokens: +(stepTokens / steps).toFixed(1),
      server_rss_mib: { before: +(rssBefore / 2 ** 20).toFixed(1), after: +(rssAfter / 2 ** 20).toFixed(1) },
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    if (st.errors.length) process.exitCode = 1;
  } finally {
    if (server.child) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child!.once('exit', r));
    }
    if (server.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  }
}

await main();
