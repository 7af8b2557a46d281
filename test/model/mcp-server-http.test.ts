/**
 * Resident's MCP server over streamable HTTP (`/mcp` on the HTTP server), driven by the official
 * SDK client: every tool, progress notifications, cancellation, transcripts as resources, API-key
 * auth, and protocol-version negotiation with a client announcing a newer revision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { REPO, readSse, removeDir, skipReason, startTestServer, tinyTokenizer, type TestServer } from '../fixtures/agent/harness.js';
import { AGENT_RUN_ARGS, checkToolCallsValidate, longDocument, structured } from '../fixtures/agent/checks.js';

const KEY = 'test-key-123';
let srv: TestServer | undefined;
let client: Client;

beforeAll(async () => {
  await skipReason(); // throws with the reason when the model or engine is missing
  srv = await startTestServer({ config: { apiKey: KEY, batchTokens: 64, mcpConfig: `${REPO}examples/computer-use-mcp/mcp.json` } });
  client = new Client({ name: 'mcp-http-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${KEY}` } } }));
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await srv?.close();
  if (srv) removeDir(srv.dataDir);
});

describe('MCP server over streamable HTTP', () => {
  it('refuses a client without the API key', async () => {
    const res = await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
  });

  it('lists every tool and calls the session tools', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['agent_run', 'session_append', 'session_create', 'session_delete', 'session_fork', 'session_generate', 'session_info', 'session_list', 'session_repair', 'session_rollback']);

    const created = structured(await client.callTool({ name: 'session_create', arguments: { messages: [{ role: 'system', content: 'You answer briefly.' }] } }));
    const id = created.session_id as string;
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const progress: { progress: number; total?: number }[] = [];
    const appended = structured(await client.callTool({ name: 'session_append', arguments: { session_id: id, document: longDocument(3000, await tinyTokenizer()) } }, undefined, { onprogress: (p) => progress.push(p) }));
    const prefilled = (appended.appended as { prefilled_tokens: number }).prefilled_tokens;
    expect(prefilled).toBeGreaterThan(1000);
    expect(progress.length).toBeGreaterThan(1); // at least one report during the prefill and the final one
    expect(progress.some((p) => p.progress < prefilled)).toBe(true);
    expect(progress.at(-1)!.progress).toBe(prefilled);

    const gen = structured(await client.callTool({ name: 'session_generate', arguments: { session_id: id, messages: [{ role: 'user', content: 'Summarize.' }], max_tokens: 6, seed: 1, chat_template_kwargs: { enable_thinking: false } } }));
    const usage = gen.usage as { prefilled_tokens: number; reused_tokens: number; completion_tokens: number };
    expect(usage.reused_tokens).toBeGreaterThan(prefilled); // the document's K/V stayed resident
    expect(usage.prefilled_tokens).toBeLessThan(40); // only the question and the generation prompt
    expect(usage.completion_tokens).toBeGreaterThan(0);

    const info = structured(await client.callTool({ name: 'session_info', arguments: { session_id: id } }));
    expect((info.messages as unknown[]).length).toBe(4); // system, document, user, assistant

    const fork = structured(await client.callTool({ name: 'session_fork', arguments: { session_id: id, message: 2, name: 'http-fork' } }));
    const forkId = fork.session_id as string;
    expect(forkId).not.toBe(id);
    const forkInfo = structured(await client.callTool({ name: 'session_info', arguments: { session_id: 'http-fork' } }));
    expect((forkInfo.parent as { id: string }).id).toBe(id);
    expect((forkInfo.messages as unknown[]).length).toBe(2);

    const rb = structured(await client.callTool({ name: 'session_rollback', arguments: { session_id: id, message: 2 } }));
    expect(rb.messages).toBe(2);

    const list = structured(await client.callTool({ name: 'session_list', arguments: {} }));
    const ids = (list.sessions as { id: string }[]).map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining([id, forkId]));

    const resources = (await client.listResources()).resources.map((r) => r.uri);
    expect(resources).toContain(`resident://sessions/${id}/transcript`);
    const transcript = await client.readResource({ uri: `resident://sessions/${forkId}/transcript` });
    const body = JSON.parse((transcript.contents[0] as { text: string }).text) as { id: string; messages: unknown[] };
    expect(body.id).toBe(forkId);
    expect(body.messages.length).toBe(2);

    const del = structured(await client.callTool({ name: 'session_delete', arguments: { session_id: forkId } }));
    expect(del.deleted).toBe(true);
    const gone = await client.callTool({ name: 'session_info', arguments: { session_id: forkId } });
    expect(gone.isError).toBe(true);
    expect(JSON.stringify(gone.content)).toMatch(/not found/);
  });

  it('reports bad arguments as error results', async () => {
    const r = await client.callTool({ name: 'session_rollback', arguments: { session_id: 'x' } });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/message/);
    await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(/unknown tool/);
  });

  it('agent_run drives a real stdio MCP tool server, with progress', async () => {
    const progress: string[] = [];
    const r = structured(await client.callTool({ name: 'agent_run', arguments: AGENT_RUN_ARGS }, undefined, { onprogress: (p) => progress.push(p.message ?? ''), resetTimeoutOnProgress: true }));
    expect(['done', 'max_steps']).toContain(r.status);
    expect(r.steps).toBeGreaterThanOrEqual(1);
    checkToolCallsValidate(r.tool_calls as never[], /^browser__(open_page|click|type|read_screen)$/);
    expect(progress.some((m) => /call browser__/.test(m))).toBe(true);
    expect(progress.some((m) => /run ended/.test(m))).toBe(true);
    expect((r.usage as { prefilled: number }).prefilled).toBeGreaterThan(0);
  });

  it('cancelling agent_run cancels the run', async () => {
    const ac = new AbortController();
    let runId = '';
    const call = client.callTool({ name: 'agent_run', arguments: { ...AGENT_RUN_ARGS, max_steps: 50, max_tokens: 400 } }, undefined, {
      signal: ac.signal,
      onprogress: (p) => {
        const m = /^run (\S+) on session/.exec(p.message ?? '');
        if (m) runId = m[1]!;
        if (/turn started/.test(p.message ?? '')) ac.abort(); // mid-generation (up to 400 tokens)
      },
    });
    await expect(call).rejects.toThrow();
    expect(runId).not.toBe('');
    const deadline = Date.now() + 30_000;
    let status = 'running';
    while (Date.now() < deadline && status === 'running') {
      await new Promise((r) => setTimeout(r, 100));
      status = ((await (await fetch(`${srv!.url}/v1/agent/runs/${runId}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { status: string }).status;
    }
    expect(status).toBe('cancelled');
  });

  it('answers a client announcing a newer protocol revision with the latest it supports', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${KEY}` };
    const init = await fetch(`${srv!.url}/mcp`, {
      method: 'POST', headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2026-07-28', capabilities: {}, clientInfo: { name: 'future-client', version: '9.0.0' } } }),
    });
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    const [msg] = await readSse(init);
    const result = (msg as { result: { protocolVersion: string; serverInfo: { name: string } } }).result;
    expect(result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    expect(result.protocolVersion).toBe('2025-11-25');
    expect(result.serverInfo.name).toBe('resident');
    const h2 = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': result.protocolVersion };
    await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: h2, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    const list = await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: h2, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    const [l] = await readSse(list);
    expect((l as { result: { tools: unknown[] } }).result.tools.length).toBe(10);
    const del = await fetch(`${srv!.url}/mcp`, { method: 'DELETE', headers: h2 });
    expect(del.status).toBe(200);
  });
});
