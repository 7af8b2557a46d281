/**
 * A computer-use MCP server over stdio (official SDK, low-level Server) driving the fake browser:
 * open_page, click, type, read_screen. Every tool answers with the screen text. Failures (no such
 * element…) are `isError` results. Every action takes a few milliseconds, as a page render would (so a
 * client's tool timeout below that always fires). Logs go to stderr.
 *
 * Run: node --import tsx examples/computer-use-mcp/browser-server.ts
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { pathToFileURL } from 'node:url';
import { FakeBrowser } from './browser.js';

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object' as const, properties, required, additionalProperties: false });

/** The tools (schemas kept tight: short strings, bounded element numbers). */
export const BROWSER_TOOLS = [
  { name: 'open_page', description: 'Open a URL in the browser and return the screen.', inputSchema: obj({ url: { type: 'string', minLength: 1, maxLength: 120, description: 'Absolute URL, e.g. https://shop.example/' } }, ['url']) },
  { name: 'click', description: 'Click the numbered element of the current screen and return the new screen.', inputSchema: obj({ element: { type: 'integer', minimum: 0, maximum: 20 } }, ['element']) },
  { name: 'type', description: 'Type text into the numbered input of the current screen.', inputSchema: obj({ element: { type: 'integer', minimum: 0, maximum: 20 }, text: { type: 'string', maxLength: 60 } }, ['element', 'text']) },
  { name: 'read_screen', description: 'Return the current screen: URL, title, text and numbered elements.', inputSchema: obj({}) },
];

/** A server over one browser; each tool call answers after `latencyMs`. */
export function createBrowserServer(browser = new FakeBrowser(), log: (line: string) => void = () => {}, latencyMs = 5): Server {
  const server = new Server({ name: 'fake-browser', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: BROWSER_TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const a = (req.params.arguments ?? {}) as Record<string, unknown>;
    log(`${req.params.name} ${JSON.stringify(a)}`);
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
    try {
      switch (req.params.name) {
        case 'open_page': browser.open(String(a.url)); break;
        case 'click': browser.click(Number(a.element)); break;
        case 'type': browser.type(Number(a.element), String(a.text ?? '')); break;
        case 'read_screen': break;
        default: throw new McpError(ErrorCode.InvalidParams, `unknown tool '${req.params.name}'`);
      }
    } catch (e) {
      if (e instanceof McpError) throw e;
      return { content: [{ type: 'text', text: `${(e as Error).message}\n\n${browser.screen()}` }], isError: true };
    }
    return { content: [{ type: 'text', text: browser.screen() }] };
  });
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const log = (line: string) => process.stderr.write(`[fake-browser] ${line}\n`);
  log('ready');
  await createBrowserServer(new FakeBrowser(), log).connect(new StdioServerTransport());
}
