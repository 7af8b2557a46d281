// Runs the native state-slot checks (engine/native/tests/state-slot-test.cpp): the slot's layout and the
// recurrent-state rules on a hybrid shape, compiled with the same compiler node-gyp uses.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'resident-slot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state slot (native)', () => {
  it('keeps KV for attention layers only and the recurrent state rules (stale after truncate, restored by writeState)', () => {
    const bin = join(dir, 'state-slot-test');
    const src = ['engine/native/tests/state-slot-test.cpp', 'engine/native/state-slot.cpp', 'engine/native/alloc-counter.cpp'];
    execFileSync(process.env.CXX ?? 'g++', ['-std=c++17', '-O1', '-Wall', '-Wextra', ...src, '-o', bin], { cwd: ROOT, stdio: 'pipe' });
    const out = execFileSync(bin, { encoding: 'utf8' });
    expect(out).toMatch(/state slot: all checks passed/);
  }, 120_000);
});
