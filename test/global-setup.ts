// Global setup for vitest: makes sure the cache folder exists, says where the shared reference data comes
// from, and gives the run a temporary folder of its own (TMPDIR, inherited by the test workers and every
// process they start) that is removed when the run ends, so no test's leftovers outlive the run.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedAbsentReason, sharedDir } from './support/shared.js';

export default function setup(): () => void {
  mkdirSync(fileURLToPath(new URL('../.cache', import.meta.url)), { recursive: true });
  const dir = sharedDir();
  console.log(dir ? `shared reference data: ${dir}` : `${sharedAbsentReason()}: the tests that need it skip`);
  const runTmp = mkdtempSync(join(tmpdir(), 'resident-test-run-'));
  process.env.TMPDIR = runTmp;
  return () => rmSync(runTmp, { recursive: true, force: true });
}
