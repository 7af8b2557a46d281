// Runs the native thread-pool checks (engine/native/tests/thread-pool-test.cpp): every task once in both claim
// orders, ranges claimed front to back per thread, runs kept apart across the generation tag's wrap; compiled with
// the same compiler node-gyp uses.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'resident-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('thread pool (native)', () => {
  it('runs every task once, in contiguous per-thread ranges when asked, with more threads than cores', () => {
    const bin = join(dir, 'thread-pool-test');
    const src = ['engine/native/tests/thread-pool-test.cpp', 'engine/native/thread-pool.cpp', 'engine/native/alloc-counter.cpp'];
    execFileSync(process.env.CXX ?? 'g++', ['-std=c++17', '-O2', '-pthread', '-Wall', '-Wextra', ...src, '-o', bin], { cwd: ROOT, stdio: 'pipe' });
    const out = execFileSync(bin, { encoding: 'utf8', timeout: 120_000 });
    expect(out).toMatch(/thread pool: all checks passed/);
  }, 180_000);
});
