/**
 * Cold-turn benchmark: a coding agent's first request (bench/fixtures/agent-first-request.ts: a ~40,000-character
 * system prompt and 15 tool schemas) against a fresh server, then its second turn (the history resent with a
 * tool call and a ~600-token tool result), then the same second turn after a server restart. Prints each
 * phase's time and, for the cold turn, the ratio to the engine's own prefill of as many tokens (goal ≤ 1.1).
 *
 * With --llama-server --gguf FILE [--fa on|off]: the same turns against the natively built llama-server on the
 * same weights (bench/llama-server.ts; prompt caching on), its restart losing what it cached.
 *
 * Without --model it runs the tiny preset with Qwen3's tokenizer from the shared reference folder.
 *
 *   npx tsx bench/cold-turn.ts [--model DIR] [--threads N] [--chars 40000] [--json] [--llama-server --gguf FILE --fa off]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serveConfig } from '../runtime/config.js';
import { Host } from '../runtime/host/host.js';
import { startHttpServer } from '../runtime/http/server.js';
import { ensureModel } from '../test/support/models.js';
import { firstMessages, TOOLS, toolResult } from './fixtures/agent-first-request.js';
import { startLlamaServer } from './llama-server.js';
import { streamTurn } from './load-support.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, threads: { type: 'string' }, chars: { type: 'string', default: '40000' }, json: { type: 'boolean' },
    'llama-server': { type: 'boolean' }, gguf: { type: 'string' }, fa: { type: 'string', default: 'off' },
  },
});
if (a['llama-server']) {
  await anchorTurns();
  process.exit(0);
}
const dataDir = mkdtempSync(join(tmpdir(), 'resident-cold-'));
// without --model: the tiny preset with Qwen3's real tokenizer (the shared folder's), as an agent's prompt tokenizes
const model = a.model ?? (await ensureModel('tiny', 'f32')).dir;
const config = serveConfig({ model, dataDir, port: 0, contextTokens: 32768, ...(a.threads ? { threads: Number(a.threads) } : {}) });
const rows: { phase: string; ms: number; tokens?: number; note?: string }[] = [];
const ms = (t0: number) => +(performance.now() - t0).toFixed(1);

async function serve() {
  const t0 = performance.now();
  const host = await new Host(config, { log: () => {} }).start();
  const server = await startHttpServer(host);
  return { host, server, startMs: ms(t0) };
}

const messages = firstMessages(Number(a.chars));
const body = (msgs: unknown[]) => ({ model: 'm', messages: msgs, tools: TOOLS, max_tokens: 16, temperature: 0, chat_template_kwargs: { enable_thinking: false } });

let s = await serve();
rows.push({ phase: 'server start', ms: s.startMs });
const name = s.host.modelId;
{
  // what the server does before the engine runs: template render + tokenization of the whole prompt
  const t0 = performance.now();
  const enc = s.host.protocol.append('empty', messages, { tools: TOOLS.map((t) => t as never), kwargs: { enable_thinking: false } });
  rows.push({ phase: 'render + tokenize (in-process)', ms: ms(t0), tokens: enc.tokens.length });
}
const cold = await streamTurn(s.server.url, { ...body(messages), model: name });
rows.push({ phase: 'cold turn: time to first token', ms: +cold.ttft.toFixed(1), tokens: cold.promptTokens, note: `${cold.prefilled} prefilled` });
rows.push({ phase: 'cold turn: whole turn', ms: +cold.total.toFixed(1), tokens: cold.completionTokens, note: 'completion tokens' });
{
  // the engine alone: a fresh slot, the same number of tokens, chunked at the batch size as the scheduler does
  const e = s.host.engine;
  const slot = e.createSlot(cold.promptTokens + 8);
  const toks = Array.from({ length: cold.promptTokens }, (_, i) => 200 + ((i * 7919) % 5000));
  const t0 = performance.now();
  for (let i = 0; i < toks.length; i += e.maxBatchTokens) {
    const chunk = toks.slice(i, i + e.maxBatchTokens);
    await e.forward([{ slot, tokens: chunk, logits: i + chunk.length >= toks.length ? 'last' : 'none' }]);
  }
  const enginePrefill = ms(t0);
  slot.dispose();
  rows.push({ phase: 'engine prefill of as many tokens', ms: enginePrefill, tokens: cold.promptTokens });
  rows.push({ phase: 'cold TTFT / engine prefill (goal ≤ 1.1)', ms: +(cold.ttft / enginePrefill).toFixed(3) });
}
const call = { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ absolute_path: '/home/dev/projects/orchard/src/core/retry.ts' }) } };
const second = [...messages, { role: 'assistant', content: cold.content || null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: toolResult(2400) }];
const warm = await streamTurn(s.server.url, { ...body(second), model: name });
rows.push({ phase: 'warm turn (tool result): time to first token', ms: +warm.ttft.toFixed(1), tokens: warm.promptTokens, note: `${warm.prefilled} prefilled` });

await s.server.close();
await s.host.close();
s = await serve();
rows.push({ phase: 'restart: server start', ms: s.startMs });
const again = await streamTurn(s.server.url, { ...body(second), model: name });
rows.push({ phase: 'after restart, same turn: time to first token', ms: +again.ttft.toFixed(1), tokens: again.promptTokens, note: `${again.prefilled} prefilled` });
await s.server.close();
await s.host.close();
rmSync(dataDir, { recursive: true, force: true });

if (a.json) process.stdout.write(JSON.stringify({ bench: 'cold-turn', model: name, rows }) + '\n');
else for (const r of rows) process.stdout.write(`${r.phase.padEnd(48)} ${String(r.ms).padStart(9)}${r.tokens !== undefined ? `  ${r.tokens} tokens` : ''}${r.note ? ` (${r.note})` : ''}\n`);

/** The same turns against llama-server: cold, warm (its cached prompt), and after a restart (nothing cached). */
async function anchorTurns(): Promise<void> {
  if (!a.gguf) throw new Error('--llama-server needs --gguf FILE (the same weights as --model)');
  const { defaultThreads } = await import('../engine/native.js');
  const opts = { gguf: a.gguf, parallel: 1, context: 32768, threads: a.threads ? Number(a.threads) : defaultThreads(), fa: a.fa === 'on' ? 'on' as const : 'off' as const };
  const rows: { phase: string; ms: number; tokens?: number; note?: string }[] = [];
  const msgs = firstMessages(Number(a.chars));
  const req = (m: unknown[]) => ({ model: 'anchor', messages: m, tools: TOOLS, max_tokens: 16, temperature: 0, cache_prompt: true, chat_template_kwargs: { enable_thinking: false } });
  let t0 = performance.now();
  let ls = await startLlamaServer(opts);
  rows.push({ phase: 'server start', ms: +(performance.now() - t0).toFixed(1) });
  try {
    const cold = await streamTurn(ls.url, req(msgs));
    rows.push({ phase: 'cold turn: time to first token', ms: +cold.ttft.toFixed(1), tokens: cold.promptTokens });
    rows.push({ phase: 'cold turn: whole turn', ms: +cold.total.toFixed(1), tokens: cold.completionTokens, note: 'completion tokens' });
    const call = { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ absolute_path: '/home/dev/projects/orchard/src/core/retry.ts' }) } };
    const second = [...msgs, { role: 'assistant', content: cold.content || null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: toolResult(2400) }];
    const warm = await streamTurn(ls.url, req(second));
    rows.push({ phase: 'warm turn (tool result): time to first token', ms: +warm.ttft.toFixed(1), tokens: warm.promptTokens });
    await ls.stop();
    t0 = performance.now();
    ls = await startLlamaServer(opts);
    rows.push({ phase: 'restart: server start', ms: +(performance.now() - t0).toFixed(1) });
    const again = await streamTurn(ls.url, req(second));
    rows.push({ phase: 'after restart, same turn: time to first token', ms: +again.ttft.toFixed(1), tokens: again.promptTokens });
  } finally {
    await ls.stop();
  }
  const name = `llama-server -fa ${opts.fa}`;
  if (a.json) process.stdout.write(JSON.stringify({ bench: 'cold-turn', server: name, rows }) + '\n');
  else for (const r of rows) process.stdout.write(`${(name + ': ' + r.phase).padEnd(64)} ${String(r.ms).padStart(9)}${r.tokens !== undefined ? `  ${r.tokens} tokens` : ''}${r.note ? ` (${r.note})` : ''}\n`);
}
