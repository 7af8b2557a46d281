/**
 * Who may reach the server and for how long: Host and Origin checks by default (DNS rebinding, a
 * cross-site `text/plain` POST), opened by `--allow-host` / `--allow-origin`; slow-loris clients
 * (headers or body trickling in) closed after the configured timeouts, while a streamed generation
 * that lasts longer than them runs to its end.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-support.js';

let srv: TestServer;
let open: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
  open = await startTestServer({ allowHosts: ['resident.test'], allowOrigins: ['https://app.example'] });
});
afterAll(async () => {
  await srv?.close();
  await open?.close();
});

/** A raw request with any Host/Origin (fetch would not let a test set Host). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const CHAT = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const codeOf = (r: { body: string }) => (JSON.parse(r.body) as { error: { code: string } }).error.code;

describe('Host and Origin', () => {
  it('refuses a foreign Host name (DNS rebinding) and accepts IP literals and localhost', async () => {
    const port = new URL(srv.url).port;
    const evil = await send(srv.url, 'GET', '/v1/models', { host: `evil.example:${port}` });
    expect([evil.status, codeOf(evil)]).toEqual([403, 'host_not_allowed']);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '10.1.2.3']) {
      expect([host, (await send(srv.url, 'GET', '/v1/models', { host })).status]).toEqual([host, 200]);
    }
    expect((await send(srv.url, 'GET', '/health', { host: 'evil.example' })).status).toBe(200); // liveness probes use any name
  });

  it('refuses a cross-site text/plain POST before it starts anything, and a foreign Origin on every route', async () => {
    const runsBefore = (await (await fetch(`${srv.url}/v1/agent/runs`)).json()) as { data: unknown[] };
    const form = await send(srv.url, 'POST', '/v1/agent/runs', { 'content-type': 'text/plain', origin: 'https://evil.example' }, JSON.stringify({ goal: 'list files' }));
    expect([form.status, codeOf(form)]).toEqual([403, 'origin_not_allowed']);
    const runsAfter = (await (await fetch(`${srv.url}/v1/agent/runs`)).json()) as { data: unknown[] };
    expect(runsAfter.data.length).toBe(runsBefore.data.length);
    for (const [method, path] of [['POST', '/v1/chat/completions'], ['GET', '/v1/sessions'], ['POST', '/mcp'], ['GET', '/metrics']]) {
      const r = await send(srv.url, method!, path!, { 'content-type': 'application/json', origin: 'http://evil.example' }, method === 'POST' ? CHAT : undefined);
      expect([path, r.status, codeOf(r)]).toEqual([path, 403, 'origin_not_allowed']);
    }
    expect((await send(srv.url, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', origin: 'null' }, CHAT)).status).toBe(403);
    // The server's own origin (a page it served) and clients without Origin pass.
    const self = await send(srv.url, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', origin: srv.url }, CHAT);
    expect(self.status).toBe(200);
  });

  it('--allow-host and --allow-origin open exactly what they name', async () => {
    const port = new URL(open.url).port;
    expect((await send(open.url, 'GET', '/v1/models', { host: `resident.test:${port}` })).status).toBe(200);
    expect((await send(open.url, 'GET', '/v1/models', { host: `other.test:${port}` })).status).toBe(403);
    expect((await send(open.url, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', origin: 'https://app.example' }, CHAT)).status).toBe(200);
    expect((await send(open.url, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', origin: 'https://app.example.evil' }, CHAT)).status).toBe(403);
  });
});

/** Opens a raw connection, writes `first`, then nothing; resolves with what the server sent and how long until it closed. */
function stall(base: string, first: string, maxMs: number): Promise<{ closedAfterMs: number; got: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = connect(Number(u.port), u.hostname, () => sock.write(first));
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    const guard = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server kept a stalled connection open for ${maxMs} ms`));
    }, maxMs);
    sock.on('close', () => {
      clearTimeout(guard);
      resolve({ closedAfterMs: performance.now() - t0, got });
    });
    sock.on('error', () => undefined);
  });
}

describe('slow clients', () => {
  it('closes a connection that sends half its headers after the headers timeout', async () => {
    const r = await stall(srv.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app', 6000);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(r.got).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection that sends half its body after the request timeout', async () => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${CHAT.length}\r\n\r\n`;
    const r = await stall(srv.url, head + CHAT.slice(0, 10), 8000);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(1400);
  });

  it('does not cut a streamed generation that outlasts both timeouts', async () => {
    const eos = [...srv.host.tokenizer.eosIds, ...srv.host.tokenizer.specialIds];
    const logit_bias = Object.fromEntries(eos.map((id) => [String(id), -100]));
    const t0 = performance.now();
    const res = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'tell a long story' }], max_tokens: 1500, stream: true, logit_bias, seed: 1 }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      await new Promise((r) => setTimeout(r, 20)); // a slow reader: the response lasts longer still
    }
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(2 * 1500); // else this test proves nothing (1500 tokens: ~10 s on the tiny model)
    expect(text).toMatch(/"finish_reason":"length"/);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
