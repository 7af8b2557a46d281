/**
 * Tenant isolation over every MCP tool and resource, driven by the official SDK client over
 * streamable HTTP with one key per client (issue 23). The tool table is checked against tools/list,
 * so a new tool without a row fails here. Beta's calls on alpha's session answer exactly as on a
 * missing one; its lists and resources hold only its own; the admin sees both tenants.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpTools } from '../../runtime/mcp/server.js';
import { KEY, startTenantServer, type TenantServer } from './tenants-support.js';

const SECRET = 'ALPHA-MCP-SECRET';
const MISSING = '01JZZZZZZZZZZZZZZZZZZZZZZZ';
let t: TenantServer;
const clients: Record<'alpha' | 'beta' | 'admin', Client> = {} as never;
let alphaSession = '';
let alphaTokens = 0;

async function connect(key: string): Promise<Client> {
  const c = new Client({ name: 'tenant-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${t.srv.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return c;
}
const call = async (c: Client, name: string, args: Record<string, unknown>) => (await c.callTool({ name, arguments: args })) as CallToolResult;
const text = (r: CallToolResult) => r.content.map((x) => (x.type === 'text' ? x.text : '')).join('');

beforeAll(async () => {
  t = await startTenantServer();
  clients.alpha = await connect(KEY.alpha);
  clients.beta = await connect(KEY.beta);
  clients.admin = await connect(KEY.admin);
  const r = await call(clients.alpha, 'session_create', { name: 'notes', messages: [{ role: 'user', content: `${SECRET}: keep it.` }], chat_template_kwargs: { enable_thinking: false } });
  expect(r.isError).toBeFalsy();
  alphaSession = (r.structuredContent as { session_id: string }).session_id;
  alphaTokens = (r.structuredContent as { session: { token_count: number } }).session.token_count;
});
afterAll(async () => {
  for (const c of Object.values(clients)) await c?.close().catch(() => undefined);
  await t?.close();
});

/** Beta calling `name` on alpha's session gets the error a missing session gets, and nothing of alpha. */
async function asMissing(name: string, args: Record<string, unknown> = {}): Promise<void> {
  const cross = await call(clients.beta, name, { ...args, session_id: alphaSession });
  const missing = await call(clients.beta, name, { ...args, session_id: MISSING });
  expect([cross.isError, missing.isError]).toEqual([true, true]);
  expect(text(cross).replaceAll(alphaSession, 'ID')).toBe(text(missing).replaceAll(MISSING, 'ID'));
  expect(text(cross)).toMatch(/not found/);
  expect(text(cross)).not.toContain(SECRET);
}

const TOOLS: Record<string, () => Promise<void>> = {
  session_create: async () => {
    const r = await call(clients.beta, 'session_create', { name: 'notes' }); // names are per tenant
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { session: { tenant: string } }).session.tenant).toBe('beta');
  },
  session_append: () => asMissing('session_append', { messages: [{ role: 'user', content: 'x' }] }),
  session_generate: () => asMissing('session_generate', { max_tokens: 1 }),
  session_fork: () => asMissing('session_fork', {}),
  session_rollback: () => asMissing('session_rollback', { message: 0 }),
  session_info: async () => {
    await asMissing('session_info');
    const named = await call(clients.beta, 'session_info', { session_id: 'notes' });
    expect((named.structuredContent as { tenant: string }).tenant).toBe('beta'); // the name resolves to beta's own
  },
  session_list: async () => {
    const r = await call(clients.beta, 'session_list', {});
    const list = r.structuredContent as { sessions: { id: string; tenant: string }[]; damaged: unknown[] };
    expect(list.sessions.length).toBeGreaterThan(0);
    expect(list.sessions.every((s) => s.tenant === 'beta')).toBe(true);
    expect(JSON.stringify(list)).not.toContain(alphaSession);
    expect(list.damaged).toEqual([]);
  },
  session_repair: () => asMissing('session_repair'),
  session_delete: () => asMissing('session_delete'),
  agent_run: async () => {
    const cross = await call(clients.beta, 'agent_run', { goal: 'x', session_id: alphaSession, max_steps: 0 });
    const missing = await call(clients.beta, 'agent_run', { goal: 'x', session_id: MISSING, max_steps: 0 });
    expect([cross.isError, text(cross).replaceAll(alphaSession, 'ID')]).toEqual([true, text(missing).replaceAll(MISSING, 'ID')]);
  },
};

describe('tenant isolation over every MCP tool and resource', () => {
  it('the table has one row per tool the server lists', async () => {
    const listed = (await clients.beta.listTools()).tools.map((x) => x.name).sort();
    expect(listed).toEqual(Object.keys(TOOLS).sort());
    expect(mcpTools(t.srv.host).map((x) => x.name).sort()).toEqual(listed);
  });

  it.each(Object.keys(TOOLS))('%s: another tenant reads, writes and lists nothing of alpha', async (name) => {
    await TOOLS[name]!();
  });

  it("resources: another tenant neither lists nor reads alpha's transcript", async () => {
    const uri = `resident://sessions/${alphaSession}/transcript`;
    const listed = (await clients.beta.listResources()).resources.map((r) => r.uri);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed).not.toContain(uri);
    const err = async (u: string) => clients.beta.readResource({ uri: u }).then(() => 'read', (e: Error) => e.message);
    const cross = await err(uri);
    expect(cross).not.toBe('read');
    expect(cross.replaceAll(alphaSession, 'ID')).toBe((await err(`resident://sessions/${MISSING}/transcript`)).replaceAll(MISSING, 'ID'));
    expect(cross).not.toContain(SECRET);
  });

  it("alpha's session is intact; the admin lists and reads both tenants' sessions", async () => {
    const info = (await call(clients.alpha, 'session_info', { session_id: alphaSession })).structuredContent as { token_count: number; tenant: string };
    expect([info.token_count, info.tenant]).toEqual([alphaTokens, 'alpha']);
    const all = (await call(clients.admin, 'session_list', {})).structuredContent as { sessions: { tenant: string }[] };
    const owners = new Set(all.sessions.map((s) => s.tenant));
    expect(owners.has('alpha') && owners.has('beta')).toBe(true);
    const uris = (await clients.admin.listResources()).resources.map((r) => r.uri);
    expect(uris).toContain(`resident://sessions/${alphaSession}/transcript`);
    const read = await clients.admin.readResource({ uri: `resident://sessions/${alphaSession}/transcript` });
    expect(JSON.stringify(read.contents)).toContain(SECRET);
  });
});
