/** Named errors of the tools floor. Registry calls never throw these at callers: they become data. */
import { ResidentError } from '../engine/util/resident-error.js';

/** Base class of every tools error. */
export class ToolError extends ResidentError {
  override name = 'ToolError';
  override code = 'tool_error';
  override status = 400;
}

/** A tool name breaks `^[a-zA-Z0-9_-]{1,64}$` or is already registered. Raised at registration time. */
export class ToolRegistrationError extends ToolError {
  override name = 'ToolRegistrationError';
  override code = 'tool_registration_failed';
  override status = 400;
}

/** A tool ran longer than its timeout; its signal was aborted. */
export class ToolTimeoutError extends ToolError {
  override name = 'ToolTimeoutError';
  override code = 'tool_timeout';
  override status = 504;
  constructor(readonly toolName: string, readonly timeoutMs: number) {
    super(`tool '${toolName}' timed out after ${timeoutMs} ms`);
  }
}

/** The caller's signal aborted the call. */
export class ToolAbortedError extends ToolError {
  override name = 'ToolAbortedError';
  override code = 'cancelled';
  override status = 499;
}

/** A fetch target resolves to an address the policy refuses (private, loopback, ...). No connection was made. */
export class BlockedAddressError extends ToolError {
  override name = 'BlockedAddressError';
  override code = 'blocked_address';
  override status = 403;
  constructor(message: string, readonly host: string, readonly address?: string) {
    super(message);
  }
}

/** A fetch failed: bad URL or scheme, too many redirects, HTTP-level failure, network error. */
export class FetchUrlError extends ToolError {
  override name = 'FetchUrlError';
  override code = 'fetch_failed';
  override status = 502;
}

/** A file-tool path escapes the configured root (`..`, absolute, encoded forms, symlinks). */
export class PathEscapeError extends ToolError {
  override name = 'PathEscapeError';
  override code = 'path_escape';
  override status = 403;
  constructor(message: string, readonly path: string) {
    super(message);
  }
}

/** A file-tool operation failed inside the root: missing file, too large, not a directory, ... */
export class FileToolError extends ToolError {
  override name = 'FileToolError';
  override code = 'file_tool_failed';
  override status = 400;
}

/** The `mcpServers` config is invalid: names the server and the field. */
export class McpConfigError extends ToolError {
  override name = 'McpConfigError';
  override code = 'invalid_mcp_config';
  override status = 400;
  constructor(message: string, readonly server?: string, readonly field?: string) {
    super(message);
  }
}

/** An MCP server could not be reached or disconnected. */
export class McpConnectionError extends ToolError {
  override name = 'McpConnectionError';
  override code = 'mcp_connection_failed';
  override status = 502;
  constructor(message: string, readonly server: string) {
    super(message);
  }
}
