/**
 * Resident's MCP server (official SDK v1, low-level `Server`): the session tools, `agent_run`, and
 * one resource per session (its transcript, `resident://sessions/<id>/transcript`). Arguments are
 * checked with ajv against each tool's schema; failures come back as `isError` results naming the
 * problem, unknown tools as JSON-RPC InvalidParams. One Server per client connection, all sharing
 * the Host.
 *
 * Protocol versions: the SDK v1 answers `initialize` with the client's version when it supports it
 * (2024-10-07 … 2025-11-25) and otherwise with its latest (2025-11-25); a newer client then
 * continues with that version or disconnects.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ListToolsRequestSchema, McpError, ReadResourceRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { SchemaValidator } from '../../tools/index.js';
import { AgentRequestError, AgentRunNotFoundError, AgentRunStateError } from '../agent/errors.js';
import type { Host } from '../host/host.js';
import { toErrorResponse } from '../http/errors.js';
import { sessionView } from '../http/sessions-routes.js';
import { agentTool } from './agent-tool.js';
import { ProgressReporter } from './progress.js';
import { findSession, sessionTools } from './session-tools.js';
import { McpToolArgumentError, type McpToolDef } from './tool-def.js';
import { LOCAL_TENANT, type Tenant } from '../tenants/tenant.js';
import { visibleSessions } from '../tenants/visibility.js';

/** Name and version the server reports in `initialize`. */
export const MCP_SERVER_INFO = { name: 'resident', version: '0.1.0' } as const;

const TRANSCRIPT = /^resident:\/\/sessions\/([^/]+)\/transcript$/;
const transcriptUri = (id: string) => `resident://sessions/${id}/transcript`;

/** The error text of a failed call. */
function errorText(e: unknown): string {
  if (e instanceof McpToolArgumentError || e instanceof AgentRequestError || e instanceof AgentRunNotFoundError || e instanceof AgentRunStateError) return `${e.name}: ${e.message}`;
  const { body } = toErrorResponse(e);
  return `${body.error.code ?? body.error.type}: ${body.error.message}`;
}

/** All tools of the server. */
export function mcpTools(host: Host, t: Tenant = LOCAL_TENANT): McpToolDef[] {
  return [...sessionTools(host, t), agentTool(host, t)];
}

/** A new MCP server bound to `host` and acting as tenant `t` (connect it to one transport). */
export function createMcpServer(host: Host, t: Tenant = LOCAL_TENANT): Server {
  const server = new Server(
    { ...MCP_SERVER_INFO, title: 'Resident' },
    {
      capabilities: { tools: {}, resources: {} },
      instructions: 'Resident keeps each session\'s context resident in a KV slot: create a session, append to it, generate, fork or roll back; only new tokens are computed. agent_run runs the tool-calling agent loop.',
    },
  );
  const tools = mcpTools(host, t);
  const validator = new SchemaValidator();

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema as { type: 'object' } })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const tool = tools.find((t) => t.name === req.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `unknown tool '${req.params.name}'; tools: ${tools.map((t) => t.name).join(', ')}`);
    const args = (req.params.arguments ?? {}) as Record<string, unknown>;
    const checked = validator.validate(tool.inputSchema, args);
    if (!checked.ok) return { content: [{ type: 'text', text: `invalid arguments for ${tool.name}: ${checked.message}` }], isError: true };
    const progress = new ProgressReporter(req.params._meta?.progressToken, (n) => extra.sendNotification(n));
    try {
      const out = await tool.run(args, { signal: extra.signal, progress });
      return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
    } catch (e) {
      return { content: [{ type: 'text', text: errorText(e) }], isError: true };
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: visibleSessions(host.store.list(), t).map((s) => ({
      uri: transcriptUri(s.id),
      name: `session ${s.id}${s.state.settings.name ? ` (${String(s.state.settings.name)})` : ''}`,
      description: `Transcript of session ${s.id}: ${s.tokens.length} tokens`,
      mimeType: 'application/json',
    })),
  }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [{ uriTemplate: 'resident://sessions/{session_id}/transcript', name: 'session-transcript', description: "A session's messages, tools and counters", mimeType: 'application/json' }],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    const m = TRANSCRIPT.exec(req.params.uri);
    if (!m) throw new McpError(ErrorCode.InvalidParams, `unknown resource '${req.params.uri}' (expected resident://sessions/<id>/transcript)`);
    let s;
    try {
      s = findSession(host, decodeURIComponent(m[1]!), t);
    } catch (e) {
      throw new McpError(ErrorCode.InvalidParams, (e as Error).message);
    }
    return { contents: [{ uri: req.params.uri, mimeType: 'application/json', text: JSON.stringify(sessionView(s)) }] };
  });
  return server;
}
