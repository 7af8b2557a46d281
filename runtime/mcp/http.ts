/**
 * `/mcp`: the MCP server over streamable HTTP (SDK v1 web-standard transport) on the same hono app.
 * Stateful: an `initialize` POST without `Mcp-Session-Id` opens a transport + server pair under a
 * fresh transport session id; later requests carry it (GET opens the SSE stream, DELETE ends it).
 * Transport sessions idle for `idleMs` are closed. They are not Resident sessions: those are ulid
 * handles passed as tool arguments and outlive any connection.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Host } from '../host/host.js';
import { createMcpServer } from './server.js';

interface Entry {
  transport: WebStandardStreamableHTTPServerTransport;
  close: () => Promise<void>;
  lastSeen: number;
}

const rpcError = (status: number, code: number, message: string) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), { status, headers: { 'content-type': 'application/json' } });

/** Handles /mcp requests for one host. `close()` ends every transport session. */
export class McpHttpEndpoint {
  private readonly sessions = new Map<string, Entry>();

  constructor(private readonly host: Host, private readonly idleMs = 3_600_000) {}

  /** Open transport sessions. */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.sessions) if (now - e.lastSeen > this.idleMs) void e.close();
  }

  async handle(c: Context): Promise<Response> {
    this.sweep();
    const req = c.req.raw;
    const sid = req.headers.get('mcp-session-id');
    if (sid) {
      const e = this.sessions.get(sid);
      if (!e) return rpcError(404, -32001, `unknown or expired MCP session '${sid}': initialize again`);
      e.lastSeen = Date.now();
      return e.transport.handleRequest(req);
    }
    if (req.method !== 'POST') return rpcError(400, -32000, 'no Mcp-Session-Id header: send an initialize request first');
    let body: unknown;
    try {
      body = await req.json();
    } catch (err) {
      return rpcError(400, -32700, `parse error: ${(err as Error).message}`);
    }
    const first = Array.isArray(body) ? body[0] : body;
    if (!isInitializeRequest(first)) return rpcError(400, -32000, 'no Mcp-Session-Id header: the first request must be initialize');
    const server = createMcpServer(this.host);
    let entry: Entry | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (entry) this.sessions.set(id, entry);
      },
    });
    entry = {
      transport,
      lastSeen: Date.now(),
      close: async () => {
        if (transport.sessionId) this.sessions.delete(transport.sessionId);
        await server.close().catch(() => undefined);
      },
    };
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(req, { parsedBody: body });
  }

  /** Closes every transport session. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map((e) => e.close()));
    this.sessions.clear();
  }
}

const endpoints = new WeakMap<Host, McpHttpEndpoint>();

/** The host's /mcp endpoint (created on first use). */
export function mcpEndpointFor(host: Host): McpHttpEndpoint {
  let e = endpoints.get(host);
  if (!e) endpoints.set(host, (e = new McpHttpEndpoint(host)));
  return e;
}

/** Mounts `/mcp` (GET, POST, DELETE) on `app`. */
export function registerMcpRoutes(app: Hono, host: Host): void {
  app.on(['GET', 'POST', 'DELETE'], '/mcp', (c) => mcpEndpointFor(host).handle(c));
}
