/** Named errors of the tools floor. Registry calls never throw these at callers: they become data. */

/** Base class of every tools error. */
export class ToolError extends Error {
  override name = 'ToolError';
}

/** A tool name breaks `^[a-zA-Z0-9_-]{1,64}$` or is already registered. Raised at registration time. */
export class ToolRegistrationError extends ToolError {
  override name = 'ToolRegistrationError';
}

/** A tool ran longer than its timeout; its signal was aborted. */
export class ToolTimeoutError extends ToolError {
  override name = 'ToolTimeoutError';
  constructor(readonly toolName: string, readonly timeoutMs: number) {
    super(`tool '${toolName}' timed out after ${timeoutMs} ms`);
  }
}

/** The caller's signal aborted the call. */
export class ToolAbortedError extends ToolError {
  override name = 'ToolAbortedError';
}

/** A fetch target resolves to an address the policy refuses (private, loopback, ...). No connection was made. */
export class BlockedAddressError extends ToolError {
  override name = 'BlockedAddressError';
  constructor(message: string, readonly host: string, readonly address?: string) {
    super(message);
  }
}

/** A fetch failed: bad URL or scheme, too many redirects, HTTP-level failure, network error. */
export class FetchUrlError extends ToolError {
  override name = 'FetchUrlError';
}

/** A file-tool path escapes the configured root (`..`, absolute, encoded forms, symlinks). */
export class PathEscapeError extends ToolError {
  override name = 'PathEscapeError';
  constructor(message: string, readonly path: string) {
    super(message);
  }
}

/** A file-tool operation failed inside the root: missing file, too large, not a directory, ... */
export class FileToolError extends ToolError {
  override name = 'FileToolError';
}

/** The `mcpServers` config is invalid: names the server and the field. */
export class McpConfigError extends ToolError {
  override name = 'McpConfigError';
  constructor(message: string, readonly server?: string, readonly field?: string) {
    super(message);
  }
}

/** An MCP server could not be reached or disconnected. */
export class McpConnectionError extends ToolError {
  override name = 'McpConnectionError';
  constructor(message: string, readonly server: string) {
    super(message);
  }
}
