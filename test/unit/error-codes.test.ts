/**
 * One error hierarchy: every error class of the project (found by scanning the sources, so a new
 * one cannot be missed) is a ResidentError stating a stable code and an HTTP status at its
 * definition, and the edge's single mapper answers with exactly those; nothing named falls through
 * to a 500 by accident (5xx only where the class says so), and unknown values are 500 internal_error.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ResidentError } from '../../engine/util/resident-error.js';
import { toErrorResponse } from '../../runtime/http/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FLOORS = ['engine', 'sessions', 'runtime', 'tools', 'skills'];
const STATUSES = new Set([400, 401, 403, 404, 408, 409, 413, 429, 499, 500, 502, 503, 504, 507]);
/** Deliberately server-side: internal invariants, startup-only failures, upstream tools. */
const SERVER_SIDE = new Set(['InvariantError', 'EngineError', 'ModelLoadError', 'UnsupportedModelError', 'Fp8NanError', 'DisposedError', 'NoAllowedTokenError', 'GrammarStateError', 'ParserStateError', 'TokenBytesError', 'SessionError', 'SnapshotCorruptError', 'ResidencyError', 'StoreClosedError', 'ToolTimeoutError', 'FetchUrlError', 'McpConnectionError', 'HostStateError', 'StorageError', 'StorageFullError']);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every `export class X extends Y` whose chain ends in Error, by file. */
function errorClasses(): Map<string, string> {
  const ext = new Map<string, { base: string; file: string }>();
  for (const file of FLOORS.flatMap((f) => sources(join(ROOT, f)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/export class (\w+) extends (\w+)/g)) ext.set(m[1]!, { base: m[2]!, file });
  }
  const isError = (n: string, seen = 0): boolean => n === 'Error' || n === 'ResidentError' || (seen < 20 && ext.has(n) && isError(ext.get(n)!.base, seen + 1));
  return new Map([...ext].filter(([n, c]) => n !== 'ResidentError' && isError(c.base)).map(([n, c]) => [n, c.file]));
}

describe('error hierarchy', () => {
  it('every error class states a code and a status, and the edge answers with them', async () => {
    const classes = errorClasses();
    expect(classes.size).toBeGreaterThan(40);
    const rows: string[] = [];
    for (const [name, file] of classes) {
      const mod = (await import(file)) as Record<string, unknown>;
      const Cls = mod[name] as new (...a: unknown[]) => Error;
      expect([name, typeof Cls]).toEqual([name, 'function']);
      // HttpError is the edge's own error: its status and code are arguments.
      const e = name === 'HttpError' ? new Cls(413, 'x', undefined, null, 'request_too_large') : new Cls('x');
      expect([name, relative(ROOT, file), e instanceof ResidentError]).toEqual([name, relative(ROOT, file), true]);
      const re = e as ResidentError;
      const { status, body } = toErrorResponse(e);
      rows.push(`${name}: ${status} ${body.error.code}`);
      expect([name, status, body.error.code, body.error.message]).toEqual([name, re.status, re.code, e.message]);
      expect([name, STATUSES.has(status), /^[a-z][a-z0-9_]+$/.test(re.code)]).toEqual([name, true, true]);
      expect([name, status >= 500]).toEqual([name, SERVER_SIDE.has(name)]);
    }
    console.log(rows.sort().join('\n'));
  });

  it('answers anything unnamed with 500 internal_error', () => {
    expect(toErrorResponse(new TypeError('boom'))).toEqual({ status: 500, body: { error: { message: 'internal error: TypeError: boom', type: 'server_error', param: null, code: 'internal_error' } } });
  });
});
