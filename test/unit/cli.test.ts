import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/resident.js', import.meta.url));

function run(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('resident CLI', () => {
  it('lists its commands with --help', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: resident <command>');
  });

  it('rejects an unknown command with exit code 2 and a message', () => {
    const r = run('no-such-command');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'no-such-command'");
  });
});
