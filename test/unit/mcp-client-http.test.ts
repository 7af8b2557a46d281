import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpServerConnection } from '../../tools/mcp-client.js';
import { parseMcpConfig } from '../../tools/mcp-config.js';
import { ToolRegistry } from '../../tools/registry.js';
import { createEchoServer, serverEvents } from '../fixtures/tools/echo-mcp-tools.js';

// Real MCP servers in-process on 127.0.0.1 (random port): stateless streamable HTTP at /mcp and a
// legacy SSE server at /sse (+ /messages) that refuses streamable-HTTP POSTs like old servers do.
let http: HttpServer;
let base = '';
const sessions = new Map<string, StreamableHTTPServerTransport>();
const sse = new Map<string, SSEServerTransport>();
const seenAuth: string[] = [];

beforeAll(async () => {
  http = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/mcp') {
      // Stateful: one server per session, so cancellations reach the server running the call.
      seenAuth.push(String(req.headers.authorization));
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (!transport) {
        if (sid) return void res.writeHead(404).end('unknown session');
        const t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, t),
        });
        t.onclose = () => void (t.sessionId && sessions.delete(t.sessionId));
        await createEchoServer().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    } else if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      res.on('close', () => sse.delete(transport.sessionId));
      await createEchoServer().connect(transport);
    } else if (url.pathname === '/messages' && req.method === 'POST') {
      const t = sse.get(url.searchParams.get('sessionId') ?? '');
      if (!t) return void res.writeHead(404).end('no session');
      await t.handlePostMessage(req, res);
    } else {
      res.writeHead(405).end('method not allowed');
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

function connection(name: string, entry: Record<string, unknown>): McpServerConnection {
  const cfg = parseMcpConfig({ mcpServers: { [name]: entry } }, { env: { TOKEN: 'sekret' } });
  return new McpServerConnection(name, cfg.servers[name]!, { connectTimeoutMs: 10_000 });
}

describe('MCP client over streamable HTTP', () => {
  it('discovers tools, sends configured headers, calls, and times out a slow tool', async () => {
    const conn = connection('web', { url: `${base}/mcp`, headers: { Authorization: 'Bearer ${TOKEN}' } });
    await conn.connect();
    try {
      expect(conn.transportKind).toBe('http');
      expect(conn.tools()).toHaveLength(8);
      expect(seenAuth.at(-1)).toBe('Bearer sekret');
      const reg = new ToolRegistry().add(...conn.tools());
      expect((await reg.call({ name: 'web__add', arguments: '{"a":1.5,"b":2}' })).content).toBe('3.5');
      serverEvents.length = 0;
      const slow = await reg.call({ name: 'web__slow', arguments: { ms: 5_000 } }, { timeoutMs: 200 });
      expect(slow.ok).toBe(false);
      if (!slow.ok) expect(slow.error.type).toBe('timeout');
      await expect.poll(() => serverEvents, { timeout: 5_000 }).toContain('slow cancelled');
    } finally {
      await conn.close();
    }
  });

  it('falls back to SSE for an old server when no transport is configured', async () => {
    const conn = connection('legacy', { url: `${base}/sse` });
    await conn.connect();
    try {
      expect(conn.transportKind).toBe('sse');
      const reg = new ToolRegistry().add(...conn.tools());
      expect((await reg.call({ name: 'legacy__echo', arguments: { text: 'over sse' } })).content).toBe('over sse');
    } finally {
      await conn.close();
    }
  });

  it('reports an unreachable server as a connection error naming it', async () => {
    const conn = connection('gone', { url: 'http://127.0.0.1:9/mcp', type: 'http' });
    await expect(conn.connect()).rejects.toThrow(/cannot connect to MCP server 'gone'/);
    const reg = new ToolRegistry();
    expect(conn.tools()).toEqual([]);
    expect(reg.names()).toEqual([]);
  });

  it('turns a server that went away into an error result, not a crash', async () => {
    const other = createServer(async (req, res) => {
      const server = createEchoServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const conn = connection('flaky', { url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/mcp`, type: 'streamable-http' });
    await conn.connect();
    const reg = new ToolRegistry().add(...conn.tools());
    other.closeAllConnections();
    await new Promise<void>((resolve) => other.close(() => resolve()));
    const o = await reg.call({ name: 'flaky__echo', arguments: { text: 'x' } }, { timeoutMs: 5_000 });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error.type).toBe('execution_error');
    await conn.close();
  });
});
