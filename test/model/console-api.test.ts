/**
 * The console over plain HTTP (no browser): its static files need no key but keep the Host policy and
 * carry the CSP whose hash admits exactly the page's import map; only listed files are served; its JSON
 * needs the key, answers 404 with a code for unknown sessions, and reports what the server holds —
 * sessions with origin and token ranges, the fork tree, recent turns with their timing, and samples
 * of the counters.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-support.js';

const KEY = 'console-api-key-1';
let srv: TestServer;
const call = async (path: string, init: RequestInit & { key?: string | null } = {}) => {
  const key = init.key === undefined ? KEY : init.key;
  return fetch(`${srv.url}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
};
const json = async (path: string, init?: RequestInit) => {
  const r = await call(path, init);
  expect(r.status, `${path}: ${r.status}`).toBeLessThan(300);
  return r.json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

/** GET with any Host header (fetch would not let a test set Host). */
const getWithHost = (path: string, host: string, headers: Record<string, string> = {}) => new Promise<{ status: number; body: string }>((res, rej) => {
  const u = new URL(srv.url);
  const req = request({ host: u.hostname, port: u.port, path, headers: { host, ...headers } }, (r) => {
    let body = '';
    r.on('data', (c) => (body += c));
    r.on('end', () => res({ status: r.statusCode!, body }));
  });
  req.on('error', rej);
  req.end();
});

beforeAll(async () => {
  srv = await startTestServer({ apiKey: KEY });
});
afterAll(async () => srv?.close());

describe('console static files', () => {
  it('serves the page without the key, with a CSP whose hash is the import map\'s', async () => {
    const r = await call('/', { key: null });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await r.text();
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(body)![1]!;
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toContain(`script-src 'self' 'sha256-${createHash('sha256').update(map).digest('base64')}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(body).not.toMatch(/https?:\/\//); // nothing from elsewhere
  });

  it('serves Preact and htm from node_modules, byte for byte, and nothing it does not list', async () => {
    const root = dirname(dirname(createRequire(import.meta.url).resolve('preact')));
    const r = await call('/console/vendor/preact.js', { key: null });
    expect(r.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(Buffer.from(await r.arrayBuffer()).equals(readFileSync(join(root, 'dist/preact.module.js')))).toBe(true);
    for (const f of ['hooks.js', 'htm.js', 'htm-preact.js']) expect((await call(`/console/vendor/${f}`, { key: null })).status).toBe(200);
    // Raw requests (fetch would resolve the dot segments itself); with the key, so that a path the server
    // normalizes out of /console/ meets the 404 of an unknown route rather than the key check.
    const host = new URL(srv.url).host;
    for (const p of ['/console/nope.js', '/console/../runtime/http/app.ts', '/console/%2e%2e/http/app.ts', '/console/vendor/%2e%2e/%2e%2e/package.json', '/console/vendor/../../package.json', '/console/']) {
      const x = await getWithHost(p, host, { authorization: `Bearer ${KEY}` });
      expect(x.status, p).toBe(404);
      expect(JSON.parse(x.body).error.code).toBe('unknown_route');
    }
    expect((await call('/', { method: 'POST', key: null })).status).toBe(404);
  });

  it('keeps the Host policy', async () => {
    const r = await getWithHost('/', 'rebind.example');
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.code).toBe('host_not_allowed');
    expect((await getWithHost('/', `localhost:${new URL(srv.url).port}`)).status).toBe(200);
  });
});

describe('console JSON', () => {
  it('needs the key', async () => {
    for (const p of ['/v1/console/sessions', '/v1/console/server', '/v1/console/turns', '/v1/console/sessions/x']) {
      const r = await call(p, { key: null });
      expect(r.status, p).toBe(401);
      expect((await r.json()).error.code).toBe('invalid_api_key');
    }
  });

  it('answers 404 session_not_found for an unknown session', async () => {
    const r = await call('/v1/console/sessions/01NOSUCHSESSION');
    expect(r.status).toBe(404);
    expect((await r.json()).error.code).toBe('session_not_found');
  });

  it('lists sessions with origin and residency; shows token ranges, rendered text and the fork tree', async () => {
    const s = await json('/v1/sessions', { method: 'POST', body: JSON.stringify({ name: 'tree-root', messages: [{ role: 'user', content: 'one' }] }) });
    await json(`/v1/sessions/${s.id}/messages`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'assistant', content: 'two' }] }) });
    await json(`/v1/sessions/${s.id}/messages`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'three' }] }) });
    const child = await json(`/v1/sessions/${s.id}/fork`, { method: 'POST', body: JSON.stringify({ message: 2, name: 'tree-child' }) });
    const grand = await json(`/v1/sessions/${child.id}/fork`, { method: 'POST', body: JSON.stringify({}) });
    const rows = (await json('/v1/console/sessions')).data as { id: string; kind: string; origin: string; state: string; token_count: number; kv_bytes: number }[];
    const root = rows.find((r) => r.id === s.id)!;
    expect(root).toMatchObject({ kind: 'api', origin: 'api', state: 'resident' });
    expect(root.kv_bytes).toBeGreaterThan(0);
    const d = await json(`/v1/console/sessions/${child.id}`);
    expect(d.name).toBe('tree-child');
    const groups = d.transcript.groups as { from: number; to: number; text: string; first_message: number; messages: { content: string }[] }[];
    expect(groups.map((g) => g.messages[0]!.content)).toEqual(['one', 'two']);
    expect(groups[0]!.from).toBe(0);
    expect(groups[1]!.from).toBe(groups[0]!.to);
    expect(groups[1]!.to).toBe(d.token_count);
    const tokens = srv.host.store.get(child.id).tokens;
    expect(groups[1]!.text).toBe(srv.host.tokenizer.decode(tokens.slice(groups[1]!.from, groups[1]!.to)));
    expect(groups[1]!.text).toContain('two');
    // The tree is rooted at the first ancestor, whichever member is asked for.
    const tree = (await json(`/v1/console/sessions/${grand.id}`)).tree;
    expect(tree).toMatchObject({ id: s.id, name: 'tree-root', at_message: null });
    expect(tree.children).toHaveLength(1);
    expect(tree.children[0]).toMatchObject({ id: child.id, at_message: 2, at_token: groups[1]!.to });
    expect(tree.children[0].children[0]).toMatchObject({ id: grand.id, at_message: 2, at_token: d.token_count });
    expect((await json(`/v1/console/sessions/tree-root`)).id).toBe(s.id); // by name too
  });

  it('records recent turns with time to first token and decode rate, and samples the counters', async () => {
    const before = Date.now();
    const r = await json('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: srv.host.modelId, messages: [{ role: 'user', content: 'count' }], max_tokens: 16, temperature: 0 }) });
    const turns = (await json('/v1/console/turns')).data as { sessionId: string; completionTokens: number; ttftMs: number; totalMs: number; decodeTps: number }[];
    expect(turns).toHaveLength(1);
    const t = turns[0]!;
    expect(t.sessionId).toBe(r.x_resident.session_id);
    expect(t.completionTokens).toBe(r.usage.completion_tokens);
    expect(t.ttftMs).toBeGreaterThan(0);
    expect(t.totalMs).toBeGreaterThan(t.ttftMs);
    expect(t.decodeTps).toBeCloseTo(((t.completionTokens - 1) * 1000) / (t.totalMs - t.ttftMs), 6);
    let server: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 40; i++) {
      server = await json('/v1/console/server');
      if (server.history.some((h: { at: number }) => h.at > before + server.interval_ms)) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(server.engine).toMatchObject({ kernels: srv.host.engine.kernels, threads: 2 });
    expect(server.model.id).toBe(srv.host.modelId);
    expect(server.memory.weights_bytes).toBeGreaterThan(0);
    expect(server.memory.kv_budget_bytes).toBe(srv.host.resolved!.kvBudgetBytes);
    expect(server.slots.max).toBe(srv.host.resolved!.slots);
    const samples = server.history as { at: number; generatedPerS: number }[];
    expect(samples.every((h) => h.generatedPerS >= 0)).toBe(true);
    expect(samples.some((h) => h.generatedPerS > 0)).toBe(true); // the turn's tokens show up as a rate
  });
});
