/**
 * `resident mcp` (the MCP server over stdio) as a child process, driven by the official SDK client
 * over its stdin/stdout: every tool, progress, transcripts, and a client announcing a newer protocol
 * revision (the server answers with the latest it supports and the session goes on).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { REPO, removeDir, skipReason, tempDir, tinyModel, tinyTokenizer } from '../fixtures/agent/harness.js';
import { AGENT_RUN_ARGS, checkToolCallsValidate, longDocument, structured } from '../fixtures/agent/checks.js';

const NEWER = '2026-07-28';
let client: Client;
let data = '';
const stderr: string[] = [];
const seen: { sentVersion?: string; answeredVersion?: string } = {};

/** Wraps a transport: announces NEWER in `initialize` and records the version the server answers. */
function announcingNewer(inner: Transport): Transport {
  const t: Transport = {
    start: () => inner.start(),
    close: () => inner.close(),
    send: (m, o) => {
      const x = m as { method?: string; params?: { protocolVersion?: string } };
      if (x.method === 'initialize' && x.params) {
        x.params.protocolVersion = NEWER;
        seen.sentVersion = NEWER;
      }
      return inner.send(m, o);
    },
    setProtocolVersion: (v) => inner.setProtocolVersion?.(v),
  };
  inner.onmessage = (m: JSONRPCMessage, extra) => {
    const r = (m as { result?: { protocolVersion?: string } }).result;
    if (r?.protocolVersion && !seen.answeredVersion) seen.answeredVersion = r.protocolVersion;
    t.onmessage?.(m, extra);
  };
  inner.onclose = () => t.onclose?.();
  inner.onerror = (e) => t.onerror?.(e);
  return t;
}

beforeAll(async () => {
  await skipReason(); // throws with the reason when the model or engine is missing
  data = tempDir('resident-mcp-stdio-');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['bin/resident.js', 'mcp', '--model', await tinyModel(), '--data', data, '--context', '4096', '--threads', '2', '--batch', '64', '--mcp-config', 'examples/computer-use-mcp/mcp.json'],
    cwd: REPO,
    env: getDefaultEnvironment(),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (b: Buffer) => stderr.push(b.toString()));
  client = new Client({ name: 'mcp-stdio-test', version: '1.0.0' });
  await client.connect(announcingNewer(transport), { timeout: 120_000 });
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  if (data) removeDir(data);
});

describe('resident mcp over stdio', () => {
  it('negotiates down from a newer protocol revision and logs only to stderr', async () => {
    expect(seen.sentVersion).toBe(NEWER);
    expect(seen.answeredVersion).toBe('2025-11-25');
    expect(client.getServerVersion()?.name).toBe('resident');
    expect(stderr.join('')).toMatch(/resident mcp: serving/);
  });

  it('calls every tool', async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toHaveLength(10);
    const id = structured(await client.callTool({ name: 'session_create', arguments: { name: 'stdio-base', messages: [{ role: 'system', content: 'Be brief.' }] } })).session_id as string;
    const progress: number[] = [];
    const ap = structured(await client.callTool({ name: 'session_append', arguments: { session_id: id, messages: [{ role: 'user', content: longDocument(2300, await tinyTokenizer()) }] } }, undefined, { onprogress: (p) => progress.push(p.progress) }));
    expect((ap.appended as { prefilled_tokens: number }).prefilled_tokens).toBeGreaterThan(500);
    expect(progress.length).toBeGreaterThan(0);
    const gen = structured(await client.callTool({ name: 'session_generate', arguments: { session_id: 'stdio-base', max_tokens: 5, seed: 2, chat_template_kwargs: { enable_thinking: false } } }));
    expect((gen.usage as { reused_tokens: number }).reused_tokens).toBeGreaterThan(500);
    const fork = structured(await client.callTool({ name: 'session_fork', arguments: { session_id: id } })).session_id as string;
    const rb = structured(await client.callTool({ name: 'session_rollback', arguments: { session_id: fork, message: 1 } }));
    expect(rb.messages).toBe(1);
    const info = structured(await client.callTool({ name: 'session_info', arguments: { session_id: fork } }));
    expect((info.messages as unknown[]).length).toBe(1);
    const list = structured(await client.callTool({ name: 'session_list', arguments: {} }));
    expect((list.sessions as unknown[]).length).toBeGreaterThanOrEqual(2);
    const res = await client.readResource({ uri: `resident://sessions/${id}/transcript` });
    expect(JSON.parse((res.contents[0] as { text: string }).text).messages).toHaveLength(3);
    expect(structured(await client.callTool({ name: 'session_delete', arguments: { session_id: fork } })).deleted).toBe(true);

    const progressRun: string[] = [];
    const run = structured(await client.callTool({ name: 'agent_run', arguments: AGENT_RUN_ARGS }, undefined, { onprogress: (p) => progressRun.push(p.message ?? ''), resetTimeoutOnProgress: true }));
    expect(['done', 'max_steps']).toContain(run.status);
    checkToolCallsValidate(run.tool_calls as never[], /^browser__/);
    expect(progressRun.length).toBeGreaterThan(2);
  });
});
