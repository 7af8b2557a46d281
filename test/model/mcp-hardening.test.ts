/**
 * /mcp against misbehaving clients: a JSON-RPC id reused while its request is in flight is answered
 * with an error (the first request still gets its result, instead of hanging forever), transport
 * sessions idle-expire on the configured timeout, and each session is pinned by the SDK's
 * DNS-rebinding protection to the Host it was initialized with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { mcpEndpointFor } from '../../runtime/mcp/http.js';
import { startTestServer, type TestServer } from './http-support.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ mcpIdleMs: 1000 });
});
afterAll(async () => srv?.close());

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function rpc(body: unknown, sid?: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${srv.url}/mcp`, { method: 'POST', headers: { ...HEADERS, ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION } : {}), ...extra }, body: JSON.stringify(body) });
}

/** The JSON-RPC messages of a JSON or SSE response. */
async function messages(r: Response): Promise<Array<{ id?: unknown; result?: unknown; error?: { code: number; message: string } }>> {
  const text = await r.text();
  if ((r.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  }
  const v = JSON.parse(text);
  return Array.isArray(v) ? v : [v];
}

async function initialize(): Promise<string> {
  const r = await rpc({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  expect(r.status).toBe(200);
  const sid = r.headers.get('mcp-session-id')!;
  await r.text();
  expect((await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).status).toBe(202);
  return sid;
}

describe('MCP hardening', () => {
  it('answers a request id that is still in flight with an error; the first request still completes', async () => {
    const sid = await initialize();
    const create = async (id: number) =>
      ((await messages(await rpc({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'session_create', arguments: {} } }, sid)))[0]!.result as { structuredContent: { session_id: string } }).structuredContent.session_id;
    const append = async (id: number, sessionId: string, document: string) =>
      (await messages(await rpc({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'session_append', arguments: { session_id: sessionId, document } } }, sid)))[0]!;
    // ~1500 tokens whichever tokenizer the model has (the shared Qwen3 one or the built-in): a prefill that
    // outlasts the 30 ms before the duplicate, within the context
    const unit = 'the quick brown fox jumps over the lazy dog ';
    const probe = (await append(2, await create(1), unit.repeat(10))).result as { structuredContent: { appended: { prefilled_tokens: number } } };
    const unitTokens = probe.structuredContent.appended.prefilled_tokens / 10;
    const sessionId = await create(3);
    const document = unit.repeat(Math.floor(1500 / unitTokens));
    const first = rpc({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'session_append', arguments: { session_id: sessionId, document } } }, sid);
    await new Promise((r) => setTimeout(r, 30));
    const dup = await rpc({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, sid);
    expect(dup.status).toBe(409);
    const [err] = await messages(dup);
    expect([err!.id, err!.error!.code]).toEqual([7, -32600]);
    expect(err!.error!.message).toMatch(/already in flight/);
    const done = await messages(await first);
    const result = done.find((m) => m.id === 7)!.result as { structuredContent: { appended: { prefilled_tokens: number } } };
    expect(result.structuredContent.appended.prefilled_tokens).toBeGreaterThan(1000);
    // The id is free again once answered; a batch repeating an id is refused as a whole.
    const again = await messages(await rpc({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, sid));
    expect(again[0]!.id).toBe(7);
    expect(again[0]!.result).toBeDefined();
    const batch = await rpc([{ jsonrpc: '2.0', id: 9, method: 'tools/list' }, { jsonrpc: '2.0', id: 9, method: 'tools/list' }], sid);
    expect(batch.status).toBe(409);
  });

  it('pins a transport session to the Host it was initialized with (SDK DNS-rebinding protection)', async () => {
    const sid = await initialize();
    const port = new URL(srv.url).port;
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers: { ...HEADERS, host: `localhost:${port}`, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION, 'content-length': String(body.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(403);
  });

  it('closes transport sessions idle longer than the configured timeout', async () => {
    const endpoint = mcpEndpointFor(srv.host);
    await endpoint.close();
    const sids = [await initialize(), await initialize(), await initialize()];
    expect(endpoint.size).toBe(3);
    const live = sids[2]!;
    const t0 = Date.now();
    while (Date.now() - t0 < 2600) {
      await new Promise((r) => setTimeout(r, 400));
      expect((await rpc({ jsonrpc: '2.0', id: 50, method: 'tools/list' }, live)).status).toBe(200); // kept alive by use
    }
    expect(endpoint.size).toBe(1);
    const expired = await rpc({ jsonrpc: '2.0', id: 51, method: 'tools/list' }, sids[0]);
    expect(expired.status).toBe(404);
  });
});
