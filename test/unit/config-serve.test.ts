/** `resident serve` configuration: defaults, flags, byte sizes, precise errors, path checks. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkServePaths, ConfigError, parseByteSize, parseServeArgs, SERVE_DEFAULTS, serveConfig } from '../../runtime/config.js';
import { Host } from '../../runtime/host/host.js';

const parse = (argv: string[], env: Record<string, string> = {}) => parseServeArgs(argv, env, '/srv');
const fails = (argv: string[], flag: string | undefined, re: RegExp, env: Record<string, string> = {}) => {
  let err: unknown;
  try {
    parse(argv, env);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).flag).toBe(flag);
  expect((err as Error).message).toMatch(re);
};

describe('parseByteSize', () => {
  it.each([
    ['1024', 1024], ['8G', 8 * 2 ** 30], ['8g', 8 * 2 ** 30], ['512M', 512 * 2 ** 20], ['64k', 65536], ['1.5G', 1.5 * 2 ** 30],
    ['8GiB', 8 * 2 ** 30], ['8GB', 8 * 2 ** 30], ['2T', 2 * 2 ** 40], [' 10 M ', 10 * 2 ** 20],
  ])('%s → %d', (text, bytes) => expect(parseByteSize(text)).toBe(bytes));
  it.each(['', 'G', '-1G', '8X', '1e3', '0', 'eight'])('refuses %j', (text) => expect(() => parseByteSize(text, '--kv-budget')).toThrow(/--kv-budget must be/));
});

describe('parseServeArgs', () => {
  it('has documented defaults', () => {
    const c = parse([]);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: '/srv/data', demoDtype: 'f32', weights: 'native', activations: 'auto', slots: undefined, kvBudgetBytes: undefined, skills: [], prefillShare: 1.5 });
    expect(c.model).toBeUndefined();
    expect(c.apiKey).toBeUndefined();
    expect(c.threads).toBeGreaterThanOrEqual(1);
  });

  it('reads every flag', () => {
    const c = parse([
      '--host', '0.0.0.0', '--port', '0', '--data', 'd', '--model', '/m/qwen', '--api-key', 'sk-1', '--threads', '3', '--slots', '16',
      '--weights', 'int8', '--activations', 'bf16', '--kv-budget', '8G', '--checkpoint-budget', '256M', '--context', '4096', '--batch', '256', '--prefill-share', '1.5', '--max-tokens', '77', '--max-body', '1M', '--chat-sessions', '5',
      '--stored-responses', '7', '--model-alias', 'gpt-4o', '--model-alias', 'claude-x',
      '--mcp-config', 'mcp.json', '--skills', 'a', '--skills', '/b', '--model-name', 'qwen3-0.6b',
    ]);
    expect(c).toMatchObject({
      host: '0.0.0.0', port: 0, dataDir: '/srv/d', model: '/m/qwen', apiKey: 'sk-1', threads: 3, weights: 'int8', activations: 'bf16', slots: 16, kvBudgetBytes: 8 * 2 ** 30,
      checkpointBudgetBytes: 256 * 2 ** 20,
      contextTokens: 4096, batchTokens: 256, prefillShare: 1.5, defaultMaxTokens: 77, maxBodyBytes: 2 ** 20, chatSessions: 5, mcpConfig: '/srv/mcp.json',
      skills: ['/srv/a', '/b'], modelName: 'qwen3-0.6b', storedResponses: 7, modelAliases: ['gpt-4o', 'claude-x'],
    });
  });

  it('takes the API key from RESIDENT_API_KEY unless --api-key is given', () => {
    expect(parse([], { RESIDENT_API_KEY: 'env-key' }).apiKey).toBe('env-key');
    expect(parse(['--api-key', 'flag-key'], { RESIDENT_API_KEY: 'env-key' }).apiKey).toBe('flag-key');
    expect(parse([], { RESIDENT_API_KEY: '' }).apiKey).toBeUndefined();
  });

  it('names the flag in every error', () => {
    fails(['--port', '70000'], '--port', /--port must be in \[0, 65535\], got 70000/);
    fails(['--port', 'http'], '--port', /--port must be an integer, got 'http'/);
    fails(['--threads', '0'], '--threads', /--threads must be in \[1, 256\]/);
    fails(['--weights', 'int4'], '--weights', /--weights must be native or int8, got 'int4'/);
    fails(['--activations', 'f16'], '--activations', /--activations must be auto, f32 or bf16, got 'f16'/);
    fails(['--slots', '1.5'], '--slots', /--slots must be an integer/);
    fails(['--kv-budget', 'lots'], '--kv-budget', /--kv-budget must be a byte size/);
    fails(['--checkpoint-budget', '1e9'], '--checkpoint-budget', /--checkpoint-budget must be a byte size/);
    fails(['--max-body', '0'], '--max-body', /--max-body must be a positive byte size/);
    fails(['--context', '8'], '--context', /--context must be in \[16,/);
    fails(['--demo-dtype', 'f16'], '--demo-dtype', /f32 or bf16/);
    fails(['--demo-dtype', 'bf16', '--model', '/m'], '--demo-dtype', /only to the generated demo model/);
    fails(['--host', 'a b'], '--host', /host name or IP/);
    fails(['--data', ''], '--data', /--data must not be empty/);
    fails(['--api-key', 'has space'], '--api-key', /printable ASCII/);
    fails([], '--api-key', /RESIDENT_API_KEY/, { RESIDENT_API_KEY: 'tab\tkey' });
    fails(['--model-name', 'bad name!'], '--model-name', /--model-name may hold/);
    fails(['--model-alias', 'bad alias!'], '--model-alias', /--model-alias may hold/);
    fails(['--prefill-share', '1'], '--prefill-share', /--prefill-share takes a factor above 1/);
    fails(['--prefill-share', 'fast'], '--prefill-share', /got 'fast'/);
    expect(parse(['--prefill-share', 'off']).prefillShare).toBe(false);
    fails(['--stored-responses', '0'], '--stored-responses', /--stored-responses must be in \[1,/);
    fails(['--bogus'], undefined, /Unknown option '--bogus'/);
    fails(['positional'], undefined, /positional/);
  });
});

describe('checkServePaths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resident-config-'));
  const file = join(dir, 'file.txt');
  writeFileSync(file, 'x');
  const model = join(dir, 'model');
  mkdirSync(model);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts existing paths', () => {
    writeFileSync(join(model, 'config.json'), '{}');
    expect(() => checkServePaths(parse(['--model', model, '--data', join(dir, 'new-data'), '--mcp-config', file, '--skills', dir]))).not.toThrow();
  });
  it.each([
    [['--model', join(dir, 'missing')], '--model', /is not a folder/],
    [['--model', dir], '--model', /has no config.json/],
    [['--data', file], '--data', /exists and is not a folder/],
    [['--mcp-config', join(dir, 'none.json')], '--mcp-config', /is not a file/],
    [['--skills', file], '--skills', /is not a folder/],
  ] as const)('refuses %j', (argv, flag, re) => {
    let err: unknown;
    try {
      checkServePaths(parse([...argv]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).flag).toBe(flag);
    expect((err as Error).message).toMatch(re);
  });
});

describe('Host.start validates the agent-loop files before loading a model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resident-config-host-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('refuses a malformed MCP config with a ConfigError naming --mcp-config', async () => {
    const mcp = join(dir, 'mcp.json');
    writeFileSync(mcp, '{"mcpServers": {"web": {"command": 5}}}');
    const host = new Host(serveConfig({ dataDir: join(dir, 'data'), mcpConfig: mcp }), { log: () => {} });
    await expect(host.start()).rejects.toMatchObject({ name: 'ConfigError', flag: '--mcp-config', message: expect.stringMatching(/--mcp-config: .*mcp\.json.*web/) });
    expect(() => host.engine).toThrow(/not started/);
  });
  it('refuses a non-JSON MCP config', async () => {
    const mcp = join(dir, 'broken.json');
    writeFileSync(mcp, '{nope');
    await expect(new Host(serveConfig({ dataDir: join(dir, 'data'), mcpConfig: mcp }), { log: () => {} }).start()).rejects.toThrow(/not valid JSON/);
  });
});
