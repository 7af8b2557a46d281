/**
 * Deep research: a long agent run with `fetch_url` over a local document server on 127.0.0.1 (the
 * server must allow that address only: RESIDENT_FETCH_ALLOW=127.0.0.1, never every private
 * address), interrupted mid-run and resumed from the persisted session:
 *   --interrupt restart  (what the test does) after the first step, wait for the Resident server to
 *                        be restarted (Ctrl-C and `npm start` again), then resume the run that the
 *                        restart left 'interrupted' — from its journaled session, no work redone;
 *   --interrupt cancel   (default) cancel the run after the first step and resume it the same way;
 *   --interrupt none     run straight through.
 *
 * Server: RESIDENT_FETCH_ALLOW=127.0.0.1 npm start
 * Run:    npx tsx examples/deep-research/main.ts --url http://127.0.0.1:8080 [--api-key KEY]
 */
import { Api, describeAgentEvent, exampleArgs, runMain, say } from '../lib/client.js';
import { startDocServer } from './doc-server.js';

const args = exampleArgs('deep-research', {
  interrupt: { type: 'string', help: "'cancel' (default), 'restart' or 'none'" },
  steps: { type: 'string', help: 'tool steps (default 4)' },
  'max-tokens': { type: 'string', help: 'tokens per model turn (default 384)' },
  'tool-choice': { type: 'string', help: "'required' (default) or 'auto'" },
  seed: { type: 'string', help: 'sampling seed (default 5)' },
});

interface Result { runId: string; sessionId: string; status: string; steps: number; answer: string; toolCalls: { name: string; ok: boolean; isError: boolean; error?: string }[]; usage: Record<string, number>; error?: string }

runMain(async () => {
  const api = new Api(args.url, args.apiKey);
  const mode = (args.values.interrupt as string | undefined) ?? 'cancel';
  if (!['cancel', 'restart', 'none'].includes(mode)) throw new Error(`--interrupt must be cancel, restart or none, got '${mode}'`);
  const docs = await startDocServer();
  say(`document server at ${docs.url}`);
  const sources = (await api.call<{ data: { selector: string; tools: string[] }[] }>('GET', '/v1/agent/tools')).data;
  if (!sources.some((s) => s.selector === 'fetch_url' && s.tools.length)) throw new Error('the server offers no fetch_url tool');

  let runId = '';
  let result: Result | undefined;
  let firstStepDone = false;
  const onEvent = (e: Record<string, unknown>) => {
    const line = describeAgentEvent(e);
    if (line) say(`  ${line}`);
    if (e.type === 'run_start') runId = String(e.runId);
    if (e.type === 'run_end') result = e.result as Result;
  };
  const body = {
    goal: `Research how efficient heat pumps are and what they cost. Start at ${docs.url}/index.html, follow the links that matter, and write a short summary with numbers.`,
    tool_sources: ['fetch_url'],
    max_steps: Number(args.values.steps ?? 4),
    // a call's tokens: ~40 of framing, the URL (≤ 64 chars: up to 256 tokens with the demo model's
    // mostly byte-level vocabulary, far fewer with Qwen3's) and the optional integer arguments
    max_tokens: Number(args.values['max-tokens'] ?? 384),
    max_argument_chars: 64,
    tool_timeout_ms: 10_000,
    tool_choice: (args.values['tool-choice'] as string | undefined) ?? 'required',
    enable_thinking: false,
    seed: Number(args.values.seed ?? 5),
  };

  say('== research run ==');
  const stream = api.stream('/v1/agent/runs', { ...body, stream: true }, (e) => {
    onEvent(e);
    if (e.type === 'step_end' && !firstStepDone) {
      firstStepDone = true;
      if (mode === 'cancel') {
        say(`  -- cancelling run ${runId} after step ${String(e.step)} --`);
        void api.call('POST', `/v1/agent/runs/${runId}/cancel`).catch((err: Error) => say(`  cancel failed: ${err.message}`));
      } else if (mode === 'restart') say(`RESTART-NOW run=${runId} step=${String(e.step)} — restart the Resident server now`);
    }
  });
  try {
    await stream;
  } catch (e) {
    if (mode !== 'restart') throw e;
    say(`  the event stream broke (${(e as Error).message})`);
  }
  if (mode === 'restart' && (!result || result.status === 'cancelled')) {
    say('  waiting for the server to come back…');
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('the server did not come back within 180 s');
      await new Promise((r) => setTimeout(r, 250));
      const up = await fetch(`${args.url}/health`).then((r) => r.ok, () => false);
      if (!up) continue;
      const runs = (await api.call<{ data: { run_id: string; status: string; steps: number }[] }>('GET', '/v1/agent/runs')).data;
      const mine = runs.find((r) => r.run_id === runId);
      if (mine) {
        say(`  server is back; run ${runId} is '${mine.status}' after ${mine.steps} steps (from its persisted session)`);
        break;
      }
    }
  }
  if (mode !== 'none') {
    if (!result || result.status === 'cancelled' || mode === 'restart') {
      say('== resumed from the persisted session ==');
      result = undefined;
      await api.stream(`/v1/agent/runs/${runId}/resume`, { stream: true }, onEvent);
    }
  }
  if (!result) throw new Error('the run ended without a result');
  const r = result;
  const fetched = [...docs.hits.entries()].map(([p, n]) => `${p}×${n}`).join(', ') || 'none';
  say(`\nresult: ${r.status} after ${r.steps} steps; ${r.toolCalls.length} fetch_url calls (${r.toolCalls.filter((c) => c.ok && !c.isError).length} succeeded); documents served: ${fetched}`);
  say(`usage: ${JSON.stringify(r.usage)}`);
  say(`answer: ${JSON.stringify(r.answer.slice(0, 300))}`);
  await docs.close();
  if (r.status === 'error' || r.status === 'cancelled') throw new Error(`the run ended with ${r.status}: ${r.error ?? ''}`);
});
