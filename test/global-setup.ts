// Global setup for vitest: nothing shared yet beyond making sure the cache folder exists.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  mkdirSync(fileURLToPath(new URL('../.cache', import.meta.url)), { recursive: true });
}
