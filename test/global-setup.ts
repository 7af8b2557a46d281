// Global setup for vitest: makes sure the cache folder exists and says where the shared reference data comes from.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sharedAbsentReason, sharedDir } from './support/shared.js';

export default function setup(): void {
  mkdirSync(fileURLToPath(new URL('../.cache', import.meta.url)), { recursive: true });
  const dir = sharedDir();
  console.log(dir ? `shared reference data: ${dir}` : `${sharedAbsentReason()}: the tests that need it skip`);
}
