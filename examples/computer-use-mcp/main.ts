/**
 * Computer use through MCP, both ways:
 *   1. Resident's agent loop drives a computer-use MCP server (the fake browser of browser-server.ts,
 *      configured in the server's --mcp-config) over the HTTP agent-run API, streaming its events;
 *   2. the same agent reached from an MCP client: the official SDK client connects to Resident's own
 *      MCP server at /mcp and calls `agent_run`, printing the progress notifications.
 *
 * Server: npm start -- --mcp-config examples/computer-use-mcp/mcp.json
 * Run:    npx tsx examples/computer-use-mcp/main.ts --url http://127.0.0.1:8080 [--api-key KEY]
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Api, describeAgentEvent, exampleArgs, runMain, say } from '../lib/client.js';

const args = exampleArgs('computer-use-mcp', {
  steps: { type: 'string', help: 'tool steps per run (default 3)' },
  'max-tokens': { type: 'string', help: 'tokens per model turn (default 96)' },
  'tool-choice': { type: 'string', help: "'required' (default: a call on every step, then a final answer) or 'auto'" },
  seed: { type: 'string', help: 'sampling seed (default 7)' },
});
const GOAL = 'Open https://shop.example/, search for "kettle", open the product page and report its price.';

runMain(async () => {
  const api = new Api(args.url, args.apiKey);
  const sources = (await api.call<{ data: { selector: string; tools: string[]; note?: string }[] }>('GET', '/v1/agent/tools')).data;
  const browser = sources.find((s) => s.selector === 'mcp:browser');
  if (!browser || browser.tools.length === 0) {
    throw new Error(`the server has no 'browser' MCP server${browser?.note ? ` (${browser.note})` : ''}: start it with --mcp-config examples/computer-use-mcp/mcp.json`);
  }
  say(`computer-use MCP server 'browser' connected: ${browser.tools.join(', ')}`);
  const run = {
    goal: GOAL,
    tool_sources: ['mcp:browser'],
    max_steps: Number(args.values.steps ?? 3),
    max_tokens: Number(args.values['max-tokens'] ?? 96),
    max_argument_chars: 48, // bounds string arguments (URLs, typed text) so a call fits in max_tokens
    tool_choice: (args.values['tool-choice'] as string | undefined) ?? 'required',
    enable_thinking: false,
    seed: Number(args.values.seed ?? 7),
  };

  say('\n== 1. agent loop over HTTP (POST /v1/agent/runs, SSE) ==');
  let result: Record<string, unknown> | undefined;
  await api.stream('/v1/agent/runs', { ...run, stream: true }, (e) => {
    const line = describeAgentEvent(e);
    if (line) say(`  ${line}`);
    if (e.type === 'run_end') result = e.result as Record<string, unknown>;
  });
  if (!result) throw new Error('the event stream ended without run_end');
  const calls = result.toolCalls as { name: string; ok: boolean; error?: string }[];
  say(`  answer: ${JSON.stringify(String(result.answer).slice(0, 200))}`);
  say(`  tool calls: ${calls.length} (${calls.filter((c) => c.ok).length} executed, ${calls.filter((c) => c.error === 'invalid_arguments').length} with invalid arguments)`);
  if (result.status === 'error') throw new Error(`the run failed: ${String(result.error)}`);

  say('\n== 2. the same agent from an MCP client (agent_run on /mcp) ==');
  const client = new Client({ name: 'computer-use-example', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${args.url}/mcp`), { requestInit: { headers: args.apiKey ? { authorization: `Bearer ${args.apiKey}` } : {} } }));
  say(`  connected to ${client.getServerVersion()?.name} ${client.getServerVersion()?.version}; tools: ${(await client.listTools()).tools.map((t) => t.name).join(', ')}`);
  let notes = 0;
  const r = await client.callTool({ name: 'agent_run', arguments: { ...run, seed: run.seed + 1 } }, undefined, {
    resetTimeoutOnProgress: true,
    onprogress: (p) => {
      notes++;
      say(`  progress ${p.progress}: ${p.message ?? ''}`);
    },
  });
  if (r.isError) throw new Error(`agent_run failed: ${JSON.stringify(r.content)}`);
  const out = r.structuredContent as { status: string; steps: number; answer: string; session_id: string; tool_calls: unknown[]; usage: Record<string, number> };
  say(`  agent_run: ${out.status}, ${out.steps} steps, ${out.tool_calls.length} tool calls, ${notes} progress notifications; usage ${JSON.stringify(out.usage)}`);
  const transcript = await client.readResource({ uri: `resident://sessions/${out.session_id}/transcript` });
  const messages = (JSON.parse((transcript.contents[0] as { text: string }).text) as { messages: { role: string }[] }).messages;
  say(`  transcript resource: ${messages.length} messages (${messages.map((m) => m.role).join(' → ')})`);
  await client.close();
  if (out.status === 'error') throw new Error('agent_run ended in error');
});
