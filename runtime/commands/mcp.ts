/** `resident mcp`: the MCP server over stdio (stdout carries JSON-RPC only; logs go to stderr). */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { configureAgent } from '../agent/service.js';
import { UsageError, type Command } from '../command.js';
import { ConfigError, parseServeArgs } from '../config.js';
import { SERVE_FLAGS_HELP } from '../config-help.js';
import { Host } from '../host/host.js';
import { serveMcpStdio } from '../mcp/stdio.js';

const usage = `Usage: resident mcp [options]

Serves Resident's MCP server over stdio: tools session_create, session_append, session_generate,
session_fork, session_rollback, session_info, session_list, session_delete and agent_run, and each
session's transcript as a resource. Logs go to stderr. The same server is at /mcp (streamable HTTP)
under 'resident serve'.

Agent tools:
  --workspace DIR      folder the file tools (read_file, list_files, write_file) are confined to
                       (default: env RESIDENT_WORKSPACE; unset = no file tools)
  --fetch-allow LIST   comma-separated non-public hosts/addresses/CIDRs fetch_url may reach, e.g.
                       127.0.0.1 (default: env RESIDENT_FETCH_ALLOW)

${SERVE_FLAGS_HELP.replace(/\n {2}--(host|port|api-key|keys|max-body|chat-sessions)\b[^\n]*(\n {21,}[^\n]*)*/g, '')}`;

/** Splits off the agent flags; the rest are `resident serve` flags. */
export function splitAgentFlags(argv: string[]): { workspace?: string; fetchAllow?: string[]; rest: string[] } {
  const rest: string[] = [];
  let workspace: string | undefined;
  let fetchAllow: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(workspace|fetch-allow)(?:=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined || v === '') throw new UsageError(`--${m[1]} needs a value`);
    if (m[1] === 'workspace') workspace = resolve(v);
    else fetchAllow = v.split(',').map((s) => s.trim()).filter(Boolean);
  }
  return { workspace, fetchAllow, rest };
}

export const command: Command = {
  name: 'mcp',
  summary: 'serve the MCP server over stdio (sessions and agent_run as MCP tools)',
  usage,
  async run(argv) {
    const { workspace, fetchAllow, rest } = splitAgentFlags(argv);
    if (workspace !== undefined && !(existsSync(workspace) && statSync(workspace).isDirectory())) {
      process.stderr.write(`resident mcp: --workspace ${workspace} is not a folder\n`);
      return 2;
    }
    let host: Host | undefined;
    try {
      const config = parseServeArgs(rest);
      host = new Host(config, { log: (line) => process.stderr.write(`${line}\n`) });
      await host.start();
      const env = process.env;
      const agent = configureAgent(host, {
        workspace: workspace ?? (env.RESIDENT_WORKSPACE ? resolve(env.RESIDENT_WORKSPACE) : undefined),
        fetchAllow: fetchAllow ?? (env.RESIDENT_FETCH_ALLOW ? env.RESIDENT_FETCH_ALLOW.split(',').map((s) => s.trim()).filter(Boolean) : undefined),
      });
      process.stderr.write(`resident mcp: serving ${host.modelId} over stdio (context ${host.capacity}, ${host.engine.threads} threads)\n`);
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      await serveMcpStdio(host, ac.signal);
      await agent.close();
      await host.close();
      return 0;
    } catch (e) {
      await host?.close().catch(() => undefined);
      if (e instanceof ConfigError) {
        if (/^Unknown option|^Option '/.test(e.message)) throw new UsageError(e.message);
        process.stderr.write(`resident mcp: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  },
};
