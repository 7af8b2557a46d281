/** `resident serve` refuses bad configuration with a precise message and exit code 2 (real CLI, no model needed). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/resident.js', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [bin, 'serve', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

describe('resident serve configuration errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resident-serve-cli-'));
  const notModel = join(dir, 'not-a-model');
  mkdirSync(notModel);
  const badModel = join(dir, 'bad-model');
  mkdirSync(badModel);
  writeFileSync(join(badModel, 'config.json'), '{"model_type": "llama"}');
  const badKeys = join(dir, 'keys.json');
  writeFileSync(badKeys, JSON.stringify({ keys: { 'sk-alpha-0001': { tenant: 'alpha', limits: { kv_bytes: '8X' } } } }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['--port', 'eighty'], /--port must be an integer, got 'eighty'/],
    [['--model', notModel], /has no config.json/],
    [['--model', badModel, '--data', join(dir, 'data')], /--model .*bad-model/],
    [['--keys', badKeys, '--data', join(dir, 'data')], /--keys .*keys\.json: keys\["sk-a…"\]\.limits\.kv_bytes: must be a byte size/],
    [['--keys', badKeys, '--api-key', 'sk-single-key'], /--keys and --api-key exclude each other/],
  ])('%j → exit 2', (args, re) => {
    const r = run(args as string[]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(re);
  });

  it('--help prints the flags', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--api-key KEY/);
    expect(r.stdout).toMatch(/--kv-budget SIZE/);
    expect(r.stdout).toMatch(/--keys FILE/);
  });
});
