/** Tools for the agent loop: registry, built-ins, MCP client. */
export * from './errors.js';
export type { JsonSchema, OpenAIToolDefinition, Tool, ToolCallContext, ToolCallRequest, ToolErrorType, ToolOutcome, ToolResult } from './tool.js';
export { isValidToolName, namespacedToolName, sanitizeNamePart, uniqueToolName, TOOL_NAME_PATTERN } from './tool-names.js';
export { capText, ToolRegistry, type ToolCallOptions, type ToolRegistryOptions } from './registry.js';
export { SchemaValidator, formatAjvErrors } from './schema-validator.js';
export * from './builtins/index.js';
export { loadMcpConfig, parseMcpConfig, type McpConfig, type McpConfigOptions, type McpHttpServerConfig, type McpServerConfig, type McpStdioServerConfig } from './mcp-config.js';
export { callToolResultToText, contentBlockToText } from './mcp-content.js';
export { McpClientPool } from './mcp-pool.js';
export { McpServerConnection, type McpClientOptions, type McpConnectionState, type McpToolInfo } from './mcp-client.js';
