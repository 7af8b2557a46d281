/** Several MCP servers from one `mcpServers` config, connected in parallel and synced into a registry. */
import { ToolRegistrationError } from './errors.js';
import { McpServerConnection, type McpClientOptions } from './mcp-client.js';
import type { McpConfig } from './mcp-config.js';
import type { ToolRegistry } from './registry.js';
import type { Tool } from './tool.js';

/** Several servers from one config. Servers that fail to connect are reported, not fatal. */
export class McpClientPool {
  private constructor(readonly connections: McpServerConnection[], readonly warnings: string[]) {}

  /** Connects every server in parallel; a failing server yields a warning naming it. */
  static async connect(config: McpConfig, options: McpClientOptions = {}): Promise<McpClientPool> {
    const conns = Object.entries(config.servers).map(([name, c]) => new McpServerConnection(name, c, options));
    const results = await Promise.allSettled(conns.map((c) => c.connect()));
    const warnings = [...config.warnings];
    results.forEach((r) => {
      if (r.status === 'rejected') warnings.push((r.reason as Error).message);
    });
    return new McpClientPool(conns, warnings);
  }

  /** The connection named `name`. */
  get(name: string): McpServerConnection | undefined {
    return this.connections.find((c) => c.name === name);
  }

  /** Registry tools of every connected server. */
  tools(): Tool[] {
    return this.connections.flatMap((c) => c.tools());
  }

  /**
   * Adds every server's tools to `registry` and keeps them in sync when a server's tool list changes
   * (reconnect or `list_changed`). A tool that would clash with a name from another source is left
   * out and reported through `onWarning`.
   */
  attach(registry: ToolRegistry, onWarning: (message: string) => void = () => undefined): void {
    for (const conn of this.connections) {
      const sync = (tools: Tool[]): void => {
        registry.removeSource(conn.source);
        for (const t of tools) {
          try {
            registry.add(t);
          } catch (err) {
            if (!(err instanceof ToolRegistrationError)) throw err;
            onWarning(err.message);
          }
        }
      };
      conn.onToolsChanged = sync;
      sync(conn.tools());
    }
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()));
  }
}
