/**
 * MCP client side: connects to servers from an `mcpServers` config (stdio child process, streamable
 * HTTP, or SSE for old servers), discovers their tools (`tools/list`, all pages) and exposes each as
 * a registry `Tool` named `<server>__<tool>`. Calls carry the registry's timeout and AbortSignal
 * (the SDK sends `notifications/cancelled`). A server that exits or drops the connection turns into
 * `McpConnectionError`s for calls (data in the registry), and is reconnected on the next call.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpConnectionError } from './errors.js';
import type { McpServerConfig } from './mcp-config.js';
import { callToolResultToText } from './mcp-content.js';
import type { JsonSchema, Tool, ToolCallContext, ToolResult } from './tool.js';
import { namespacedToolName, uniqueToolName } from './tool-names.js';

/** Client settings shared by all connections. */
export interface McpClientOptions {
  clientName?: string;
  clientVersion?: string;
  /** Deadline for spawning/connecting and `initialize` (default 30 000 ms). */
  connectTimeoutMs?: number;
  /** Reconnect on the next call after a disconnect (default true). */
  reconnect?: boolean;
  /** Lines of a stdio server's stderr kept for error messages (default 20). */
  stderrLines?: number;
  /** Pages of `tools/list` followed at most (default 100). */
  maxPages?: number;
}

/** A tool as the server lists it. */
export interface McpToolInfo {
  name: string;
  description?: string;
  title?: string;
  inputSchema: JsonSchema;
}

/** Connection state. */
export type McpConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** One MCP server. `connect()` first; `tools()` then lists its registry tools. */
export class McpServerConnection {
  state: McpConnectionState = 'idle';
  /** Why the last connect failed or the connection dropped. */
  lastError?: string;
  /** The transport in use after connecting. */
  transportKind?: 'stdio' | 'http' | 'sse';
  /** Server info from `initialize`. */
  serverInfo?: { name: string; version: string };
  private client?: Client;
  private connecting?: Promise<void>;
  private listed: McpToolInfo[] = [];
  private exposed: Tool[] = [];
  private readonly stderrTail: string[] = [];
  /** Called with the new tool list after a reconnect or a `notifications/tools/list_changed`. */
  onToolsChanged?: (tools: Tool[]) => void;

  constructor(readonly name: string, readonly config: McpServerConfig, private readonly options: McpClientOptions = {}) {}

  /** Registry source label of this server's tools. */
  get source(): string {
    return `mcp:${this.name}`;
  }

  /** Connects (or reconnects) and lists tools. Throws `McpConnectionError` naming the server. */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new McpConnectionError(`MCP server '${this.name}' was closed`, this.name));
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    this.state = 'connecting';
    await this.client?.close().catch(() => undefined);
    this.client = undefined;
    try {
      const attempts: Array<['stdio' | 'http' | 'sse', () => Transport]> =
        this.config.transport === 'stdio'
          ? [['stdio', () => this.stdioTransport()]]
          : this.config.transport === 'auto'
            ? [['http', () => this.httpTransport('http')], ['sse', () => this.httpTransport('sse')]]
            : [[this.config.transport, () => this.httpTransport(this.config.transport as 'http' | 'sse')]];
      const errors: string[] = [];
      for (const [kind, make] of attempts) {
        const client = this.newClient();
        try {
          await client.connect(make(), { timeout: this.options.connectTimeoutMs ?? 30_000 });
        } catch (err) {
          await client.close().catch(() => undefined);
          errors.push(`${kind}: ${(err as Error).message}`);
          continue;
        }
        this.client = client;
        this.transportKind = kind;
        break;
      }
      if (!this.client) throw new Error(errors.join('; ') + this.stderrNote());
      const info = this.client.getServerVersion();
      if (info) this.serverInfo = { name: info.name, version: info.version };
      const reconnecting = this.exposed.length > 0;
      this.listed = await this.listTools();
      this.exposed = this.buildTools(this.listed);
      if ((this.state as McpConnectionState) === 'closed') throw new Error('closed while connecting');
      this.state = 'connected';
      this.lastError = undefined;
      if (reconnecting) this.onToolsChanged?.(this.tools());
    } catch (err) {
      const message = `cannot connect to MCP server '${this.name}': ${(err as Error).message}`;
      this.lastError = message;
      await this.client?.close().catch(() => undefined);
      this.client = undefined;
      if ((this.state as McpConnectionState) !== 'closed') this.state = 'disconnected';
      throw new McpConnectionError(message, this.name);
    }
  }

  private newClient(): Client {
    const client = new Client({ name: this.options.clientName ?? 'resident', version: this.options.clientVersion ?? '0.1.0' }, { capabilities: {} });
    client.onclose = () => {
      if (this.client !== client || this.state === 'closed') return;
      this.state = 'disconnected';
      this.lastError = `MCP server '${this.name}' disconnected${this.stderrNote()}`;
    };
    client.onerror = (err) => {
      if (this.client === client) this.lastError = `MCP server '${this.name}': ${err.message}`;
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      if (this.client !== client || this.state !== 'connected') return;
      try {
        this.listed = await this.listTools();
        this.exposed = this.buildTools(this.listed);
        this.onToolsChanged?.(this.tools());
      } catch (err) {
        this.lastError = `MCP server '${this.name}': refreshing tools failed: ${(err as Error).message}`;
      }
    });
    return client;
  }

  private stdioTransport(): Transport {
    const c = this.config;
    if (c.transport !== 'stdio') throw new Error('not a stdio server');
    const t = new StdioClientTransport({
      command: c.command,
      args: c.args,
      env: { ...getDefaultEnvironment(), ...c.env },
      ...(c.cwd ? { cwd: c.cwd } : {}),
      stderr: 'pipe',
    });
    const keep = this.options.stderrLines ?? 20;
    t.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.stderrTail.push(line.slice(0, 500));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - keep));
    });
    return t;
  }

  private httpTransport(kind: 'http' | 'sse'): Transport {
    const c = this.config;
    if (c.transport === 'stdio') throw new Error('not an HTTP server');
    const requestInit = { headers: c.headers };
    return kind === 'http' ? new StreamableHTTPClientTransport(new URL(c.url), { requestInit }) : new SSEClientTransport(new URL(c.url), { requestInit });
  }

  private stderrNote(): string {
    return this.stderrTail.length ? `; server stderr (last lines): ${this.stderrTail.slice(-5).join(' | ')}` : '';
  }

  /** Lists the server's tools following `nextCursor` pages. */
  async listTools(): Promise<McpToolInfo[]> {
    const client = this.client;
    if (!client) throw new McpConnectionError(`MCP server '${this.name}' is not connected`, this.name);
    const out: McpToolInfo[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < (this.options.maxPages ?? 100); page++) {
      const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.options.connectTimeoutMs ?? 30_000 });
      for (const t of res.tools) {
        out.push({
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          ...(t.title ? { title: t.title } : {}),
          inputSchema: (t.inputSchema ?? { type: 'object' }) as JsonSchema,
        });
      }
      cursor = res.nextCursor;
      if (!cursor || seen.has(cursor)) break;
      seen.add(cursor);
    }
    return out;
  }

  private buildTools(listed: McpToolInfo[]): Tool[] {
    const taken = new Set<string>();
    return listed.map((info) => {
      const name = uniqueToolName(namespacedToolName(this.name, info.name), taken);
      taken.add(name);
      const timeoutMs = this.config.timeoutMs;
      return {
        name,
        description: info.description ?? info.title ?? `Tool '${info.name}' of MCP server '${this.name}'`,
        inputSchema: info.inputSchema,
        source: this.source,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        call: (args, ctx) => this.callTool(info.name, args, ctx),
      } satisfies Tool;
    });
  }

  /** Registry tools of this server (empty before the first successful connect). */
  tools(): Tool[] {
    return [...this.exposed];
  }

  /** The last lines a stdio server wrote to stderr (empty for HTTP servers). */
  recentStderr(): string[] {
    return [...this.stderrTail];
  }

  /** What the server listed, with original names. */
  listedTools(): McpToolInfo[] {
    return [...this.listed];
  }

  /** Calls a tool by its original name. Throws `McpConnectionError` when the server is gone. */
  async callTool(toolName: string, args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult> {
    if (this.state !== 'connected') {
      if (this.state === 'closed' || this.options.reconnect === false) {
        throw new McpConnectionError(this.lastError ?? `MCP server '${this.name}' is not connected`, this.name);
      }
      const before = this.lastError;
      await this.connect().catch((err: Error) => {
        throw new McpConnectionError(`${before ?? `MCP server '${this.name}' is not connected`}; reconnecting failed: ${err.message}`, this.name);
      });
    }
    const client = this.client!;
    try {
      const res = await client.callTool({ name: toolName, arguments: args }, undefined, {
        signal: ctx.signal,
        timeout: ctx.timeoutMs + 1_000, // the registry's timer fires first and reports a timeout
      });
      return callToolResultToText(res);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (this.state !== 'connected' || this.client !== client) {
        throw new McpConnectionError(`${this.lastError ?? `MCP server '${this.name}' disconnected`} (during a call to '${toolName}')`, this.name);
      }
      throw err;
    }
  }

  /** Closes the connection (a stdio server process is ended). Further calls fail. */
  async close(): Promise<void> {
    this.state = 'closed';
    const c = this.client;
    this.client = undefined;
    await c?.close().catch(() => undefined);
  }
}
