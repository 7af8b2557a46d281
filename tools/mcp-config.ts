/**
 * The `mcpServers` config (as used by Claude Desktop, Cursor, VS Code, ...):
 * `{"mcpServers": {"<name>": {"command", "args"?, "env"?, "cwd"?} | {"url", "headers"?, "type"?}}}`.
 * `${VAR}` / `${VAR:-default}` in strings are expanded from the environment. Errors name the
 * server and the field; unknown fields are ignored with a warning.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { McpConfigError } from './errors.js';

/** A server started as a child process speaking MCP over stdio. */
export interface McpStdioServerConfig {
  transport: 'stdio';
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Tool-call timeout for this server's tools, ms. */
  timeoutMs?: number;
}

/** A server reached over HTTP: streamable HTTP, falling back to SSE unless `transport` is fixed. */
export interface McpHttpServerConfig {
  transport: 'http' | 'sse' | 'auto';
  url: string;
  headers: Record<string, string>;
  timeoutMs?: number;
}

/** One validated server entry. */
export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** A validated config: servers by name (disabled ones dropped), plus warnings. */
export interface McpConfig {
  servers: Record<string, McpServerConfig>;
  warnings: string[];
}

/** Options for parsing. */
export interface McpConfigOptions {
  /** Variables for `${VAR}` expansion (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Folder relative `cwd` values are resolved against (default: the config file's folder, else process.cwd()). */
  baseDir?: string;
}

const KNOWN = new Set(['command', 'args', 'env', 'cwd', 'url', 'headers', 'type', 'transport', 'timeout', 'timeoutMs', 'disabled', 'description']);

/** Reads and validates a config file; throws `McpConfigError` naming the file, server and field. */
export async function loadMcpConfig(file: string, options: McpConfigOptions = {}): Promise<McpConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new McpConfigError(`cannot read MCP config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new McpConfigError(`MCP config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseMcpConfig(json, { baseDir: path.dirname(path.resolve(file)), ...options });
  } catch (err) {
    if (err instanceof McpConfigError) throw new McpConfigError(`${file}: ${err.message}`, err.server, err.field);
    throw err;
  }
}

/** Validates an already-parsed config object. */
export function parseMcpConfig(json: unknown, options: McpConfigOptions = {}): McpConfig {
  const env = options.env ?? process.env;
  if (!isObject(json)) throw new McpConfigError('MCP config must be a JSON object with an "mcpServers" object');
  const servers = json.mcpServers;
  if (!isObject(servers)) throw new McpConfigError('MCP config: "mcpServers" must be an object mapping server names to settings', undefined, 'mcpServers');
  const out: Record<string, McpServerConfig> = {};
  const warnings: string[] = [];
  for (const [name, raw] of Object.entries(servers)) {
    const fail = (field: string, msg: string): never => {
      throw new McpConfigError(`MCP server '${name}': field "${field}" ${msg}`, name, field);
    };
    if (name.trim() === '') throw new McpConfigError('MCP config: a server name is empty', name);
    if (!isObject(raw)) throw new McpConfigError(`MCP server '${name}': settings must be an object`, name);
    for (const k of Object.keys(raw)) if (!KNOWN.has(k)) warnings.push(`MCP server '${name}': unknown field "${k}" ignored`);
    if (raw.disabled === true) continue;
    const str = (field: string, v: unknown): string => {
      if (typeof v !== 'string' || v.trim() === '') return fail(field, 'must be a non-empty string');
      return expand(v, env, (msg) => fail(field, msg));
    };
    const strMap = (field: string, v: unknown): Record<string, string> => {
      if (v === undefined) return {};
      if (!isObject(v)) return fail(field, 'must be an object of strings');
      const m: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== 'string') return fail(`${field}.${k}`, 'must be a string');
        m[k] = expand(x, env, (msg) => fail(`${field}.${k}`, msg));
      }
      return m;
    };
    const timeoutRaw = raw.timeoutMs ?? raw.timeout;
    if (timeoutRaw !== undefined && (typeof timeoutRaw !== 'number' || !Number.isInteger(timeoutRaw) || timeoutRaw <= 0)) {
      fail(raw.timeoutMs !== undefined ? 'timeoutMs' : 'timeout', 'must be a positive integer (milliseconds)');
    }
    const timeout = timeoutRaw === undefined ? {} : { timeoutMs: timeoutRaw as number };
    const type = raw.type ?? raw.transport;
    const typeField = raw.type !== undefined ? 'type' : 'transport';
    if (type !== undefined && !['stdio', 'http', 'streamable-http', 'streamableHttp', 'sse'].includes(type as string)) {
      fail(typeField, `must be one of "stdio", "http", "streamable-http", "sse" (got ${JSON.stringify(type)})`);
    }
    const hasCommand = raw.command !== undefined;
    const hasUrl = raw.url !== undefined;
    if (hasCommand && hasUrl) fail('command', 'and "url" are both set; a server is either a command (stdio) or a URL (HTTP)');
    if (!hasCommand && !hasUrl) fail('command', 'is missing (give "command" for a stdio server or "url" for an HTTP server)');
    if (hasCommand) {
      if (type !== undefined && type !== 'stdio') fail(typeField, `is ${JSON.stringify(type)} but the server has a "command"`);
      const args = raw.args ?? [];
      if (!Array.isArray(args)) fail('args', 'must be an array of strings');
      const argv = (args as unknown[]).map((a, i) =>
        typeof a === 'string' ? expand(a, env, (msg) => fail(`args[${i}]`, msg)) : fail(`args[${i}]`, 'must be a string'));
      const cwd = raw.cwd === undefined ? undefined : path.resolve(options.baseDir ?? process.cwd(), str('cwd', raw.cwd));
      out[name] = { transport: 'stdio', command: str('command', raw.command), args: argv, env: strMap('env', raw.env), ...(cwd ? { cwd } : {}), ...timeout };
    } else {
      if (type === 'stdio') fail(typeField, 'is "stdio" but the server has a "url" and no "command"');
      const url = str('url', raw.url);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return fail('url', `is not a valid URL: ${JSON.stringify(url)}`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail('url', `must be http or https (got ${parsed.protocol})`);
      for (const f of ['args', 'env', 'cwd']) if (raw[f] !== undefined) warnings.push(`MCP server '${name}': field "${f}" ignored for a URL server`);
      const transport = type === 'sse' ? 'sse' : type === undefined ? 'auto' : 'http';
      out[name] = { transport, url, headers: strMap('headers', raw.headers), ...timeout };
    }
  }
  return { servers: out, warnings };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Expands `${VAR}` and `${VAR:-default}`; `$${` escapes a literal `${`. Unset without default → `fail`. */
function expand(s: string, env: Record<string, string | undefined>, fail: (msg: string) => never): string {
  return s.replace(/\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, escaped: string | undefined, name: string, def: string | undefined) => {
    if (escaped) return m.slice(1);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (def !== undefined) return def;
    return fail(`uses \${${name}} but the environment variable ${name} is not set`);
  });
}
