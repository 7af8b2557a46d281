/** The MCP server over stdio (`resident mcp`): JSON-RPC on stdin/stdout, logs on stderr only. */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Host } from '../host/host.js';
import { createMcpServer } from './server.js';

/** Serves MCP on the process's stdin/stdout until stdin ends or `signal` aborts. */
export async function serveMcpStdio(host: Host, signal?: AbortSignal): Promise<void> {
  const server = createMcpServer(host);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.stdin.once('close', () => resolve());
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
}
