import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { McpConfigError } from '../../tools/errors.js';
import { loadMcpConfig, parseMcpConfig } from '../../tools/mcp-config.js';
import { callToolResultToText } from '../../tools/mcp-content.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'resident-mcp-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configError(json: unknown, env: Record<string, string> = {}): McpConfigError {
  try {
    parseMcpConfig(json, { env });
  } catch (err) {
    expect(err).toBeInstanceOf(McpConfigError);
    return err as McpConfigError;
  }
  throw new Error('expected an McpConfigError');
}

describe('mcpServers config', () => {
  it('parses stdio and HTTP servers, expands ${VAR} and ${VAR:-default}, drops disabled ones', () => {
    const cfg = parseMcpConfig(
      {
        mcpServers: {
          fs: { command: 'npx', args: ['-y', 'server-fs', '${HOME_DIR}'], env: { LEVEL: '${LEVEL:-info}' }, cwd: 'sub' },
          web: { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer ${TOKEN}' } },
          old: { url: 'http://127.0.0.1:1/sse', type: 'sse', timeout: 5000 },
          pinned: { url: 'http://127.0.0.1:1/mcp', type: 'streamable-http' },
          off: { command: 'x', disabled: true },
          extra: { command: 'y', autoApprove: ['a'] },
        },
      },
      { env: { HOME_DIR: '/data', TOKEN: 't0k' }, baseDir: '/etc/resident' },
    );
    expect(cfg.servers.fs).toEqual({ transport: 'stdio', command: 'npx', args: ['-y', 'server-fs', '/data'], env: { LEVEL: 'info' }, cwd: '/etc/resident/sub' });
    expect(cfg.servers.web).toEqual({ transport: 'auto', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer t0k' } });
    expect(cfg.servers.old).toEqual({ transport: 'sse', url: 'http://127.0.0.1:1/sse', headers: {}, timeoutMs: 5000 });
    expect(cfg.servers.pinned!.transport).toBe('http');
    expect(cfg.servers.off).toBeUndefined();
    expect(cfg.warnings).toEqual(["MCP server 'extra': unknown field \"autoApprove\" ignored"]);
  });

  it('names the server and field in every error', () => {
    expect(configError([]).message).toMatch(/must be a JSON object/);
    expect(configError({ servers: {} }).field).toBe('mcpServers');
    const cases: Array<[unknown, string, RegExp]> = [
      [{ a: 'npx' }, '', /settings must be an object/],
      [{ a: {} }, 'command', /is missing/],
      [{ a: { command: 'x', url: 'http://h/' } }, 'command', /both set/],
      [{ a: { command: '' } }, 'command', /non-empty string/],
      [{ a: { command: 'x', args: 'nope' } }, 'args', /array of strings/],
      [{ a: { command: 'x', args: ['ok', 3] } }, 'args[1]', /must be a string/],
      [{ a: { command: 'x', env: { K: 1 } } }, 'env.K', /must be a string/],
      [{ a: { command: 'x', type: 'sse' } }, 'type', /has a "command"/],
      [{ a: { url: 'not a url' } }, 'url', /not a valid URL/],
      [{ a: { url: 'ftp://h/' } }, 'url', /http or https/],
      [{ a: { url: 'http://h/', type: 'websocket' } }, 'type', /must be one of/],
      [{ a: { url: 'http://h/', headers: { X: '${MISSING}' } } }, 'headers.X', /MISSING is not set/],
      [{ a: { command: 'x', timeoutMs: -1 } }, 'timeoutMs', /positive integer/],
    ];
    for (const [servers, field, pattern] of cases) {
      const err = configError({ mcpServers: servers });
      expect(err.server, JSON.stringify(servers)).toBe('a');
      if (field) expect(err.field, JSON.stringify(servers)).toBe(field);
      expect(err.message).toMatch(/^MCP server 'a'/);
      expect(err.message).toMatch(pattern);
    }
  });

  it('loads a file and names it in errors', async () => {
    const good = path.join(dir, 'good.json');
    await writeFile(good, JSON.stringify({ mcpServers: { s: { command: 'node', cwd: '.' } } }));
    expect((await loadMcpConfig(good)).servers.s).toMatchObject({ command: 'node', cwd: dir });
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"mcpServers": {');
    await expect(loadMcpConfig(bad)).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`));
    const wrong = path.join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ mcpServers: { s: { url: 3 } } }));
    await expect(loadMcpConfig(wrong)).rejects.toThrow(/wrong\.json: MCP server 's': field "url"/);
    await expect(loadMcpConfig(path.join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
  });
});

describe('MCP results to text', () => {
  it('renders structured-only, legacy and empty results', () => {
    expect(callToolResultToText({ content: [], structuredContent: { n: 1 } })).toEqual({ content: '{"n":1}' });
    expect(callToolResultToText({ toolResult: { ok: true } })).toEqual({ content: '{"ok":true}' });
    expect(callToolResultToText({ content: [], isError: true })).toEqual({ content: '(the tool reported an error without details)', isError: true });
    expect(callToolResultToText({ content: [{ type: 'audio', data: 'AAAA', mimeType: 'audio/wav' }, { type: 'weird' }] }).content).toBe(
      '[audio: audio/wav, 3 bytes; not shown]\n\n[unsupported content block type "weird"]',
    );
  });
});
