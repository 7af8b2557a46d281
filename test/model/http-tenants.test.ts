/**
 * Tenant isolation over every HTTP route (issue 23): two tenants (alpha, beta) and an admin on one
 * server with a keys file. The route table is checked against the routes the hono app registers, so a
 * new route without a row fails here. Beta addressing alpha's session, response or agent run gets
 * exactly the answer of a thing that does not exist (404 where missing is 404); lists hold only the
 * caller's own; creating routes never reuse another tenant's K/V or names; the admin sees both; the
 * limits answer 429 `tenant_limit` naming the limit; SIGHUP re-reads the keys file.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../runtime/http/app.js';
import { KEY, KEYS_FILE, startTenantServer, type TenantServer } from './tenants-support.js';

const SECRET = 'ALPHA-SECRET-42';
const NO_THINK = { chat_template_kwargs: { enable_thinking: false } };
let t: TenantServer;
const a: { session: string; response: string; item: string; run: string; runSession: string; tokens: number } = {} as never;
const MISSING = { session: '01JZZZZZZZZZZZZZZZZZZZZZZZ', response: 'resp_0000000000000000000000000', run: '01JZZZZZZZZZZZZZZZZZZZZZZY' };

beforeAll(async () => {
  t = await startTenantServer();
  const s = await t.call(KEY.alpha, 'POST', '/v1/sessions', { name: 'notes', messages: [{ role: 'user', content: `${SECRET}: remember this.` }], ...NO_THINK });
  expect(s.status).toBe(201);
  a.session = s.json.id;
  a.tokens = s.json.token_count;
  const r = await t.call(KEY.alpha, 'POST', '/v1/responses', { input: `${SECRET} question`, max_output_tokens: 4 });
  expect(r.status).toBe(200);
  a.response = r.json.id;
  a.item = (await t.call(KEY.alpha, 'GET', `/v1/responses/${a.response}/input_items`)).json.data[0].id;
  const run = await t.call(KEY.alpha, 'POST', '/v1/agent/runs', { goal: `${SECRET} goal`, tool_sources: [], max_steps: 0, max_tokens: 4, enable_thinking: false, wait: true });
  expect(run.status).toBe(200);
  a.run = run.json.runId;
  a.runSession = run.json.sessionId;
  expect((await t.call(KEY.beta, 'POST', '/v1/sessions', { name: 'notes' })).status).toBe(201); // names are per tenant
});
afterAll(async () => t?.close());

type Reply = Awaited<ReturnType<TenantServer['call']>>;
/** Beta on alpha's thing answers exactly as on a missing one, and shows nothing of alpha. */
async function asMissing(method: string, path: (id: string) => string, kind: keyof typeof MISSING, body?: unknown, status = 404): Promise<Reply> {
  const own = kind === 'session' ? a.session : kind === 'response' ? a.response : a.run;
  const cross = await t.call(KEY.beta, method, path(own), body);
  const missing = await t.call(KEY.beta, method, path(MISSING[kind]), body);
  expect([cross.status, cross.json?.error?.code, cross.json?.error?.type]).toEqual([status, missing.json?.error?.code, missing.json?.error?.type]);
  expect(missing.status).toBe(status);
  expect(cross.text.replaceAll(own, 'ID')).toBe(missing.text.replaceAll(MISSING[kind], 'ID'));
  expect(cross.text).not.toContain(SECRET);
  return cross;
}
const ids = (r: Reply) => JSON.stringify(r.json);

/** One row per route: what beta (another tenant) gets when it goes for alpha's things. */
const ROUTES: Record<string, () => Promise<void>> = {
  'GET /health': async () => expect((await fetch(`${t.srv.url}/health`)).status).toBe(200), // no tenant data, no key
  'GET /v1/models': async () => expect((await t.call(KEY.beta, 'GET', '/v1/models')).status).toBe(200), // no tenant data
  'GET /v1/models/:model{.+}': async () => expect((await t.call(KEY.beta, 'GET', `/v1/models/${t.srv.host.modelId}`)).status).toBe(200),
  'GET /metrics': async () => {
    const r = await t.call(KEY.beta, 'GET', '/metrics'); // names every tenant: admins only
    expect([r.status, r.json.error.code]).toEqual([404, 'unknown_route']);
  },
  'POST /v1/chat/completions': async () => {
    const messages = [{ role: 'user', content: `${SECRET} ${'shared prefix words '.repeat(20)}` }];
    const first = await t.call(KEY.alpha, 'POST', '/v1/chat/completions', { messages, max_tokens: 2, ...NO_THINK });
    const again = await t.call(KEY.alpha, 'POST', '/v1/chat/completions', { messages, max_tokens: 2, ...NO_THINK });
    expect(again.json.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0); // alpha reuses its own K/V
    const other = await t.call(KEY.beta, 'POST', '/v1/chat/completions', { messages, max_tokens: 2, ...NO_THINK });
    expect([first.status, other.status]).toEqual([200, 200]);
    expect(other.json.usage.prompt_tokens_details.cached_tokens).toBe(0); // never alpha's
    const named = await t.call(KEY.beta, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], session_id: 'notes', max_tokens: 1, ...NO_THINK });
    expect(named.status).toBe(200); // binds to beta's own 'notes'
    const mine = (await t.call(KEY.alpha, 'GET', '/v1/sessions/notes')).json;
    expect([mine.id, mine.token_count]).toEqual([a.session, a.tokens]);
  },
  'POST /v1/responses': async () => {
    const prev = await t.call(KEY.beta, 'POST', '/v1/responses', { input: 'go on', previous_response_id: a.response, max_output_tokens: 2 });
    const none = await t.call(KEY.beta, 'POST', '/v1/responses', { input: 'go on', previous_response_id: MISSING.response, max_output_tokens: 2 });
    expect([prev.status, prev.json.error.code]).toEqual([404, none.json.error.code]);
    const ref = await t.call(KEY.beta, 'POST', '/v1/responses', { input: [{ type: 'item_reference', id: a.item }], max_output_tokens: 2 });
    const refNone = await t.call(KEY.beta, 'POST', '/v1/responses', { input: [{ type: 'item_reference', id: 'msg_000000000000' }], max_output_tokens: 2 });
    expect([ref.status, ref.json?.error?.code]).toEqual([refNone.status, refNone.json?.error?.code]);
    expect(ref.text).not.toContain(SECRET);
  },
  'GET /v1/responses/:id': async () => void (await asMissing('GET', (id) => `/v1/responses/${id}`, 'response')),
  'DELETE /v1/responses/:id': async () => void (await asMissing('DELETE', (id) => `/v1/responses/${id}`, 'response')),
  'POST /v1/responses/:id/cancel': async () => void (await asMissing('POST', (id) => `/v1/responses/${id}/cancel`, 'response')),
  'GET /v1/responses/:id/input_items': async () => void (await asMissing('GET', (id) => `/v1/responses/${id}/input_items`, 'response')),
  'POST /v1/messages': async () => {
    const messages = [{ role: 'user', content: `${SECRET} ${'messages prefix words '.repeat(20)}` }];
    const body = { model: t.srv.host.modelId, max_tokens: 2, messages };
    expect((await t.call(KEY.alpha, 'POST', '/v1/messages', body)).status).toBe(200);
    expect((await t.call(KEY.alpha, 'POST', '/v1/messages', body)).json.usage.cache_read_input_tokens).toBeGreaterThan(0); // alpha reuses its own
    const r = await t.call(KEY.beta, 'POST', '/v1/messages', body);
    expect(r.status).toBe(200);
    expect(r.json.usage.cache_read_input_tokens ?? 0).toBe(0); // never alpha's
  },
  'POST /v1/messages/count_tokens': async () => expect((await t.call(KEY.beta, 'POST', '/v1/messages/count_tokens', { model: t.srv.host.modelId, messages: [{ role: 'user', content: 'x' }] })).status).toBe(200),
  'POST /v1/sessions': async () => {
    const r = await t.call(KEY.beta, 'POST', '/v1/sessions', { name: 'beta-made' });
    expect([r.status, r.json.tenant]).toEqual([201, 'beta']);
    expect((await t.call(KEY.alpha, 'GET', '/v1/sessions/beta-made')).status).toBe(404);
  },
  'GET /': async () => expect((await fetch(`${t.srv.url}/`)).status).toBe(200), // the console's page: no data, no key
  'GET /console/*': async () => expect((await fetch(`${t.srv.url}/console/app.js`)).status).toBe(200),
  'GET /v1/console/sessions': async () => {
    const r = await t.call(KEY.beta, 'GET', '/v1/console/sessions');
    expect(r.json.data.length).toBeGreaterThan(0);
    for (const own of [a.session, a.runSession]) expect(ids(r)).not.toContain(own);
    expect(ids(r)).not.toContain(SECRET);
    expect(ids(await t.call(KEY.admin, 'GET', '/v1/console/sessions'))).toContain(a.session);
  },
  'GET /v1/console/sessions/:id': async () => {
    await asMissing('GET', (id) => `/v1/console/sessions/${id}`, 'session');
  },
  'GET /v1/console/server': async () => {
    const r = await t.call(KEY.beta, 'GET', '/v1/console/server'); // server-wide figures: admins only
    expect([r.status, r.json.error.code]).toEqual([404, 'unknown_route']);
    expect((await t.call(KEY.admin, 'GET', '/v1/console/server')).status).toBe(200);
  },
  'GET /v1/console/turns': async () => {
    const r = await t.call(KEY.beta, 'GET', '/v1/console/turns');
    for (const own of [a.session, a.runSession]) expect(ids(r)).not.toContain(own);
    expect(ids(await t.call(KEY.admin, 'GET', '/v1/console/turns'))).toContain(a.runSession);
  },
  'GET /v1/sessions': async () => {
    const r = await t.call(KEY.beta, 'GET', '/v1/sessions');
    expect(r.json.data.length).toBeGreaterThan(0);
    expect(r.json.data.every((s: { tenant: string }) => s.tenant === 'beta')).toBe(true);
    expect(ids(r)).not.toContain(a.session);
    expect(ids(r)).not.toContain(a.runSession);
    expect((await t.call(KEY.beta, 'GET', '/v1/sessions?damaged=true')).json.data).toEqual([]);
  },
  'GET /v1/sessions/:id': async () => {
    await asMissing('GET', (id) => `/v1/sessions/${id}`, 'session');
    expect((await t.call(KEY.beta, 'GET', '/v1/sessions/notes')).json.tenant).toBe('beta'); // the name resolves to beta's own
  },
  'POST /v1/sessions/:id/repair': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/repair`, 'session')),
  'POST /v1/sessions/:id/messages': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/messages`, 'session', { messages: [{ role: 'user', content: 'x' }] })),
  'POST /v1/sessions/:id/generate': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/generate`, 'session', { max_tokens: 1 })),
  'POST /v1/sessions/:id/fork': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/fork`, 'session', {})),
  'POST /v1/sessions/:id/rollback': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/rollback`, 'session', { message: 0 })),
  'POST /v1/sessions/:id/edit': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/edit`, 'session', { message: 0, replacement: { role: 'user', content: 'x' } })),
  'POST /v1/sessions/:id/snapshot': async () => void (await asMissing('POST', (id) => `/v1/sessions/${id}/snapshot`, 'session')),
  'DELETE /v1/sessions/:id': async () => void (await asMissing('DELETE', (id) => `/v1/sessions/${id}`, 'session')),
  'POST /v1/agent/runs': async () => {
    // On alpha's session: as on a missing session (400 invalid_agent_request naming session_id).
    const cross = await t.call(KEY.beta, 'POST', '/v1/agent/runs', { goal: 'x', session_id: a.session, max_steps: 0, wait: true });
    const none = await t.call(KEY.beta, 'POST', '/v1/agent/runs', { goal: 'x', session_id: MISSING.session, max_steps: 0, wait: true });
    expect([cross.status, cross.json.error.code, cross.json.error.param]).toEqual([none.status, none.json.error.code, 'session_id']);
    expect(cross.status).toBe(400);
  },
  'GET /v1/agent/runs': async () => {
    const r = await t.call(KEY.beta, 'GET', '/v1/agent/runs');
    expect(ids(r)).not.toContain(a.run);
  },
  'GET /v1/agent/runs/:id': async () => void (await asMissing('GET', (id) => `/v1/agent/runs/${id}`, 'run')),
  'GET /v1/agent/runs/:id/events': async () => void (await asMissing('GET', (id) => `/v1/agent/runs/${id}/events`, 'run')),
  'POST /v1/agent/runs/:id/cancel': async () => void (await asMissing('POST', (id) => `/v1/agent/runs/${id}/cancel`, 'run')),
  'POST /v1/agent/runs/:id/resume': async () => void (await asMissing('POST', (id) => `/v1/agent/runs/${id}/resume`, 'run', {})),
  'GET /v1/agent/tools': async () => expect((await t.call(KEY.beta, 'GET', '/v1/agent/tools')).status).toBe(200), // configuration, not tenant data
  // /mcp: the tools and resources are covered tool by tool in mcp-tenants.test.ts; here, the transport session.
  'POST /mcp': async () => {
    const init = await t.call(KEY.alpha, 'POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { accept: 'application/json, text/event-stream' });
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    const hijack = await t.call(KEY.beta, 'POST', '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { accept: 'application/json, text/event-stream', 'mcp-session-id': sid });
    const unknown = await t.call(KEY.beta, 'POST', '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { accept: 'application/json, text/event-stream', 'mcp-session-id': 'no-such-session' });
    expect([hijack.status, hijack.json.error.code]).toEqual([404, unknown.json.error.code]);
    const own = await t.call(KEY.alpha, 'POST', '/mcp', { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
    expect(own.status).toBe(200);
  },
  'GET /mcp': async () => {
    const r = await t.call(KEY.beta, 'GET', '/mcp', undefined, { accept: 'text/event-stream', 'mcp-session-id': 'no-such-session' });
    expect(r.status).toBe(404);
  },
  'DELETE /mcp': async () => {
    const r = await t.call(KEY.beta, 'DELETE', '/mcp', undefined, { 'mcp-session-id': 'no-such-session' });
    expect(r.status).toBe(404);
  },
};

describe('tenant isolation over every route', () => {
  it('the table has one row per route the app registers', () => {
    const app = createApp(t.srv.host);
    const registered = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    expect([...registered].sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it.each(Object.keys(ROUTES))('%s: another tenant reads, writes and lists nothing of alpha', async (route) => {
    await ROUTES[route]!();
  });

  it("alpha's things are intact after every other tenant's attempt; the admin sees both tenants", async () => {
    const mine = (await t.call(KEY.alpha, 'GET', `/v1/sessions/${a.session}`)).json;
    expect([mine.token_count, mine.tenant, JSON.stringify(mine.messages)]).toEqual([a.tokens, 'alpha', expect.stringContaining(SECRET)]);
    expect((await t.call(KEY.alpha, 'GET', `/v1/responses/${a.response}`)).status).toBe(200);
    expect((await t.call(KEY.alpha, 'GET', `/v1/agent/runs/${a.run}`)).status).toBe(200);
    const all = await t.call(KEY.admin, 'GET', '/v1/sessions');
    const owners = new Set(all.json.data.map((s: { tenant: string }) => s.tenant));
    expect(owners.has('alpha') && owners.has('beta')).toBe(true);
    expect((await t.call(KEY.admin, 'GET', `/v1/sessions/${a.session}`)).status).toBe(200);
    expect((await t.call(KEY.admin, 'GET', `/v1/responses/${a.response}`)).status).toBe(200);
    expect(ids(await t.call(KEY.admin, 'GET', '/v1/agent/runs'))).toContain(a.run);
    const metrics = await t.call(KEY.admin, 'GET', '/metrics');
    expect(metrics.text).toMatch(/^resident_sessions\{state="(resident|spilled)",tenant="alpha"\} [1-9]/m);
    expect(metrics.text).toMatch(/^resident_sessions\{state="(resident|spilled)",tenant="beta"\} [1-9]/m);
    expect(metrics.text).toMatch(/^resident_tokens_generated_total\{tenant="alpha"\} [1-9]/m);
    expect(metrics.text).toMatch(/^resident_kv_bytes\{tenant="alpha"\} [1-9]/m);
  });
});

describe('tenant limits', () => {
  const limited = async (r: Reply, limit: string) => {
    expect([r.status, r.json.error.code, r.json.error.type]).toEqual([429, 'tenant_limit', 'rate_limit_error']);
    expect(r.json.error.message).toContain(limit);
  };

  it('sessions: creates and forks beyond the limit are refused, chat completions too; deleting makes room', async () => {
    const one = await t.call(KEY.gamma, 'POST', '/v1/sessions', { messages: [{ role: 'user', content: 'one' }] });
    const two = await t.call(KEY.gamma, 'POST', '/v1/sessions', {});
    expect([one.status, two.status]).toEqual([201, 201]);
    await limited(await t.call(KEY.gamma, 'POST', '/v1/sessions', {}), 'sessions = 2');
    await limited(await t.call(KEY.gamma, 'POST', `/v1/sessions/${one.json.id}/fork`, {}), 'sessions = 2');
    await limited(await t.call(KEY.gamma, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'new chat' }], max_tokens: 1 }), 'sessions = 2');
    expect((await t.call(KEY.gamma, 'GET', '/v1/sessions')).json.data).toHaveLength(2);
    expect((await t.call(KEY.gamma, 'DELETE', `/v1/sessions/${two.json.id}`)).status).toBe(200);
    expect((await t.call(KEY.gamma, 'POST', `/v1/sessions/${one.json.id}/fork`, {})).status).toBe(201);
  });

  it('kv_bytes: once the tenant holds its KV limit, appends and turns are refused; rollback still works', async () => {
    const s = await t.call(KEY.epsilon, 'POST', '/v1/sessions', {});
    expect(s.status).toBe(201);
    const first = await t.call(KEY.epsilon, 'POST', `/v1/sessions/${s.json.id}/messages`, { messages: [{ role: 'user', content: 'a few words of context' }] });
    expect(first.status).toBe(200); // checked before the work: the first append may overshoot
    await limited(await t.call(KEY.epsilon, 'POST', `/v1/sessions/${s.json.id}/messages`, { messages: [{ role: 'assistant', content: 'more' }] }), 'kv_bytes = 1024');
    await limited(await t.call(KEY.epsilon, 'POST', `/v1/sessions/${s.json.id}/generate`, { max_tokens: 1 }), 'kv_bytes = 1024');
    await limited(await t.call(KEY.epsilon, 'POST', '/v1/sessions', {}), 'kv_bytes = 1024');
    expect((await t.call(KEY.epsilon, 'POST', `/v1/sessions/${s.json.id}/rollback`, { message: 0 })).status).toBe(200);
    expect((await t.call(KEY.epsilon, 'POST', `/v1/sessions/${s.json.id}/messages`, { messages: [{ role: 'user', content: 'again' }] })).status).toBe(200);
    // Other tenants are not held back by epsilon's limit.
    expect((await t.call(KEY.beta, 'POST', '/v1/sessions', {})).status).toBe(201);
  });

  it('requests_per_minute: the 4th request within the minute is a 429 with Retry-After, per tenant', async () => {
    for (let i = 0; i < 3; i++) expect((await t.call(KEY.delta, 'GET', '/v1/sessions')).status).toBe(200);
    const r = await t.call(KEY.delta, 'GET', '/v1/sessions');
    await limited(r, 'requests_per_minute = 3');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await t.call(KEY.beta, 'GET', '/v1/sessions')).status).toBe(200);
  });
});

describe('keys file reload', () => {
  it('SIGHUP re-reads the keys file; an invalid one keeps the keys in use and logs why', async () => {
    const ring = t.srv.host.tenants;
    ring.watch();
    try {
      const gen = ring.generation;
      const { [KEY.beta]: _gone, ...rest } = KEYS_FILE.keys;
      writeFileSync(t.keysFile, JSON.stringify({ keys: { ...rest, 'sk-zeta-00001': { tenant: 'zeta' } } }));
      process.kill(process.pid, 'SIGHUP');
      for (let i = 0; i < 200 && ring.generation === gen; i++) await new Promise((r) => setTimeout(r, 10));
      expect(ring.generation).toBe(gen + 1);
      expect((await t.call('sk-zeta-00001', 'GET', '/v1/sessions')).json.data).toEqual([]);
      expect((await t.call(KEY.beta, 'GET', '/v1/sessions')).status).toBe(401);
      const logged = t.srv.logs.length;
      writeFileSync(t.keysFile, '{"keys": {"sk-zeta-00001": {"tenant": "zeta", "limits": {"sessions": -1}}}}');
      process.kill(process.pid, 'SIGHUP');
      for (let i = 0; i < 200 && t.srv.logs.length === logged; i++) await new Promise((r) => setTimeout(r, 10));
      expect(t.srv.logs.at(-1)).toMatch(/not reloaded, keeping the previous 6 keys: .*keys\["sk-z…"\]\.limits\.sessions: must be a positive integer, got -1/);
      expect(ring.generation).toBe(gen + 1);
      expect((await t.call('sk-zeta-00001', 'GET', '/v1/sessions')).status).toBe(200);
      expect((await t.call(KEY.alpha, 'GET', `/v1/sessions/${a.session}`)).status).toBe(200);
    } finally {
      ring.unwatch();
    }
  });
});
