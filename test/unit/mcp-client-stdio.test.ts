import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { McpClientPool } from '../../tools/mcp-pool.js';
import { parseMcpConfig } from '../../tools/mcp-config.js';
import { ToolRegistry } from '../../tools/registry.js';

// A real stdio MCP server (the SDK's server over stdin/stdout), run with `node --import tsx`.
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/tools/echo-mcp-server.ts', import.meta.url));
const serverEntry = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: ['--import', 'tsx', FIXTURE],
  cwd: REPO,
  env: { FIXTURE_GREETING: '${GREETING:-none}' },
  ...extra,
});

let pool: McpClientPool;
let reg: ToolRegistry;

beforeAll(async () => {
  const config = parseMcpConfig(
    {
      mcpServers: {
        echo: serverEntry(),
        once: serverEntry({ timeoutMs: 5_000 }),
        broken: { command: '/nonexistent/definitely-not-a-command' },
      },
    },
    { env: { GREETING: 'hello-env' } },
  );
  pool = await McpClientPool.connect(config, { connectTimeoutMs: 20_000 });
  reg = new ToolRegistry({ defaultTimeoutMs: 10_000 }).add(...pool.tools());
}, 60_000);

afterAll(async () => {
  await pool?.close();
});

describe('MCP client over stdio', () => {
  it('discovers every tool across list pages and namespaces them', () => {
    const echoTools = pool.get('echo')!.tools().map((t) => t.name);
    expect(echoTools.slice(0, 6)).toEqual(['echo__echo', 'echo__add', 'echo__slow', 'echo__media', 'echo__fail', 'echo__crash']);
    expect(echoTools[6]).toMatch(/^echo__get_status_[0-9a-f]{8}$/);
    expect(echoTools[7]).toBe('echo__grow');
    expect(echoTools).toHaveLength(8); // 3 pages of 3, 3, 2
    expect(pool.get('echo')!.transportKind).toBe('stdio');
    expect(pool.get('echo')!.serverInfo).toEqual({ name: 'echo-fixture', version: '1.0.0' });
    for (const def of reg.definitions()) expect(def.function.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });

  it('reports a server that cannot start as a warning naming it, without failing the others', () => {
    expect(pool.get('broken')!.state).toBe('disconnected');
    expect(pool.warnings.some((w) => w.includes("MCP server 'broken'"))).toBe(true);
    expect(pool.get('echo')!.state).toBe('connected');
  });

  it('passes the configured environment to the server process', () => {
    expect(pool.get('echo')!.recentStderr().join('\n')).toContain('FIXTURE_GREETING=hello-env');
  });

  it('calls tools and turns content blocks into text', async () => {
    const [echo, add, media, fail, sanitized] = await reg.callMany([
      { id: '1', name: 'echo__echo', arguments: '{"text":"hi there"}' },
      { id: '2', name: 'echo__add', arguments: { a: 2, b: 3 } },
      { id: '3', name: 'echo__media', arguments: {} },
      { id: '4', name: 'echo__fail', arguments: {} },
      { id: '5', name: pool.get('echo')!.tools()[6]!.name, arguments: {} },
    ]);
    expect(echo).toMatchObject({ ok: true, id: '1', content: 'hi there', isError: false });
    expect(add!.content).toBe('5');
    expect(media!.content).toBe(
      '[image: image/png, 14 bytes; not shown]\n\n[resource link: readme.md <file:///docs/readme.md>, text/markdown]\n\n[resource mem://note (text/plain)]\nembedded note',
    );
    expect(fail).toMatchObject({ ok: true, isError: true, content: 'something went wrong' });
    expect(sanitized!.content).toBe('status ok');
  });

  it('validates arguments against the server schema before calling', async () => {
    const o = await reg.call({ name: 'echo__echo', arguments: { txt: 'x' } });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error.message).toContain("must have required property 'text'");
  });

  it('times out a slow tool, cancels it on the server, and keeps the connection usable', async () => {
    const o = await reg.call({ name: 'echo__slow', arguments: { ms: 10_000 } }, { timeoutMs: 300 });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error.type).toBe('timeout');
    const after = await reg.call({ name: 'echo__echo', arguments: { text: 'still alive' } });
    expect(after.content).toBe('still alive');
    await expect.poll(() => pool.get('echo')!.recentStderr().join('\n'), { timeout: 5_000 }).toContain('slow cancelled');
  });

  it('aborts a call from the caller signal', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const o = await reg.call({ name: 'echo__slow', arguments: { ms: 10_000 } }, { signal: ac.signal });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error.type).toBe('aborted');
  });

  it('keeps an attached registry in sync when the server reports tools/list_changed', async () => {
    const synced = new ToolRegistry();
    const warnings: string[] = [];
    pool.attach(synced, (w) => warnings.push(w));
    expect(synced.names()).toContain('echo__grow');
    expect(synced.names()).not.toContain('echo__extra');
    expect((await synced.call({ name: 'echo__grow', arguments: {} })).content).toBe('grown');
    await expect.poll(() => synced.names(), { timeout: 5_000 }).toContain('echo__extra');
    expect((await synced.call({ name: 'echo__extra', arguments: {} })).content).toBe('extra tool ran');
    expect(warnings).toEqual([]);
  });

  it('turns a crashing server into an error result, then reconnects on the next call', async () => {
    const crash = await reg.call({ name: 'once__crash', arguments: {} });
    expect(crash.ok).toBe(false);
    if (!crash.ok) {
      expect(crash.error.type).toBe('execution_error');
      expect(crash.error.message).toMatch(/McpConnectionError: MCP server 'once' disconnected.*fatal: crash requested/);
    }
    expect(pool.get('once')!.state).toBe('disconnected');
    const again = await reg.call({ name: 'once__echo', arguments: { text: 'back' } });
    expect(again.content).toBe('back');
    expect(pool.get('once')!.state).toBe('connected');
  }, 30_000);
});
