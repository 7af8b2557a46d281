/**
 * `/mcp`: the MCP server over streamable HTTP (SDK v1 web-standard transport) on the same hono app.
 * Stateful: an `initialize` POST without `Mcp-Session-Id` opens a transport + server pair under a
 * fresh transport session id; later requests carry it (GET opens the SSE stream, DELETE ends it).
 * Transport sessions idle for `idleMs` (`--mcp-idle`) are closed by a sweep. They are not Resident
 * sessions: those are ulid handles passed as tool arguments and outlive any connection.
 * Bodies deeper than MAX_JSON_DEPTH are refused before parsing; a request whose JSON-RPC id is still
 * in flight on its session is answered with an error (-32600) instead of orphaning the first one;
 * each transport runs the SDK's DNS-rebinding protection pinned to the Host it was initialized with.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest, isJSONRPCErrorResponse, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { MAX_JSON_DEPTH, jsonTextDepth } from '../../engine/util/json-depth.js';
import type { Host } from '../host/host.js';
import { createMcpServer } from './server.js';
import { getTenant } from '../http/tenant-auth.js';

interface Entry {
  transport: WebStandardStreamableHTTPServerTransport;
  close: () => Promise<void>;
  lastSeen: number;
  /** JSON-RPC ids of requests received and not yet answered. */
  inFlight: Set<string | number>;
  /** The tenant whose key initialized it: only that tenant's requests reach it. */
  tenant: string;
}

const rpcError = (status: number, code: number, message: string, id: string | number | null = null) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id }), { status, headers: { 'content-type': 'application/json' } });

/** Reads and parses a POST body; a Response when it is not acceptable JSON. */
async function readBody(req: Request): Promise<{ body: unknown } | Response> {
  let text: string;
  try {
    text = await req.text();
  } catch (err) {
    return rpcError(400, -32700, `parse error: ${(err as Error).message}`);
  }
  const depth = jsonTextDepth(text);
  if (depth > MAX_JSON_DEPTH) return rpcError(400, -32600, `the request nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are allowed`);
  try {
    return { body: JSON.parse(text) };
  } catch (err) {
    return rpcError(400, -32700, `parse error: ${(err as Error).message}`);
  }
}

const requestIds = (body: unknown): Array<string | number> =>
  (Array.isArray(body) ? body : [body]).filter((m) => isJSONRPCRequest(m)).map((m) => (m as { id: string | number }).id);

/** Handles /mcp requests for one host. `close()` ends every transport session. */
export class McpHttpEndpoint {
  private readonly sessions = new Map<string, Entry>();

  /** Runs the sweep while any transport session is open. */
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: Host, private readonly idleMs = host.config.mcpIdleMs) {}

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(60_000, this.idleMs / 2)));
    this.timer.unref();
  }

  /** Open transport sessions. */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [, e] of this.sessions) if (now - e.lastSeen > this.idleMs) void e.close();
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  async handle(c: Context): Promise<Response> {
    this.sweep();
    const req = c.req.raw;
    const sid = req.headers.get('mcp-session-id');
    if (sid) {
      const e = this.sessions.get(sid);
      // Another tenant's transport session is as unknown as an expired one.
      if (!e || e.tenant !== getTenant(c).id) return rpcError(404, -32001, `unknown or expired MCP session '${sid}': initialize again`);
      e.lastSeen = Date.now();
      if (req.method !== 'POST') return e.transport.handleRequest(req);
      const read = await readBody(req);
      if (read instanceof Response) return read;
      const ids = requestIds(read.body);
      const dup = ids.find((id, i) => e.inFlight.has(id) || ids.indexOf(id) !== i);
      if (dup !== undefined) return rpcError(409, -32600, `request id ${JSON.stringify(dup)} is already in flight on this MCP session: use a fresh id`, dup);
      for (const id of ids) e.inFlight.add(id);
      return e.transport.handleRequest(req, { parsedBody: read.body });
    }
    if (req.method !== 'POST') return rpcError(400, -32000, 'no Mcp-Session-Id header: send an initialize request first');
    const read = await readBody(req);
    if (read instanceof Response) return read;
    const body = read.body;
    const first = Array.isArray(body) ? body[0] : body;
    if (!isInitializeRequest(first)) return rpcError(400, -32000, 'no Mcp-Session-Id header: the first request must be initialize');
    const tenant = getTenant(c);
    const server = createMcpServer(this.host, tenant);
    let entry: Entry | undefined;
    const hostHeader = req.headers.get('host') ?? '';
    const origins = this.host.config.allowOrigins;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableDnsRebindingProtection: true,
      allowedHosts: [hostHeader],
      allowedOrigins: origins.includes('*') ? [] : [...origins, `http://${hostHeader}`, `https://${hostHeader}`],
      onsessioninitialized: (id) => {
        if (entry) this.sessions.set(id, entry);
        this.watch();
      },
    });
    const inFlight = new Set<string | number>();
    const send = transport.send.bind(transport);
    transport.send = async (m: JSONRPCMessage, o) => {
      if (isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m)) inFlight.delete(m.id as string | number);
      return send(m, o);
    };
    entry = {
      transport,
      inFlight,
      tenant: tenant.id,
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
    clearInterval(this.timer);
    this.timer = undefined;
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
