/** Resident's MCP server: tools over sessions and the agent loop, session transcripts as resources. */
export { createMcpServer, mcpTools, MCP_SERVER_INFO } from './server.js';
export { McpHttpEndpoint, mcpEndpointFor, registerMcpRoutes } from './http.js';
export { serveMcpStdio } from './stdio.js';
export { ProgressReporter, type McpCallContext } from './progress.js';
export type { McpToolDef } from './tool-def.js';
