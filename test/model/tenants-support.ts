/** A server with a keys file of several tenants, and a caller acting with one key (for *-tenants.test.ts). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './http-support.js';

/** Keys of the test tenants: alpha and beta (users), ops (admin), and tenants with one limit each. */
export const KEY = {
  alpha: 'sk-alpha-0001',
  beta: 'sk-beta-00001',
  admin: 'sk-root-00001',
  gamma: 'sk-gamma-0001', // sessions: 2
  delta: 'sk-delta-0001', // requests_per_minute: 3
  epsilon: 'sk-epsil-0001', // kv_bytes: 1K
} as const;

export const KEYS_FILE = {
  keys: {
    [KEY.alpha]: { tenant: 'alpha', role: 'user' },
    [KEY.beta]: { tenant: 'beta' },
    [KEY.admin]: { tenant: 'ops', role: 'admin' },
    [KEY.gamma]: { tenant: 'gamma', limits: { sessions: 2 } },
    [KEY.delta]: { tenant: 'delta', limits: { requests_per_minute: 3 } },
    [KEY.epsilon]: { tenant: 'epsilon', limits: { kv_bytes: '1K' } },
  },
};

export interface TenantServer {
  srv: TestServer;
  keysFile: string;
  /** One request with `key`; the body as JSON when it is JSON, else text. */
  call(key: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string; headers: Headers }>;
  close(): Promise<void>;
}

/** Starts the tiny-model server with the keys file above. */
export async function startTenantServer(): Promise<TenantServer> {
  const dir = mkdtempSync(join(tmpdir(), 'resident-tenants-'));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify(KEYS_FILE));
  const srv = await startTestServer({ keysFile, slots: 4 });
  return {
    srv,
    keysFile,
    async call(key, method, path, body, headers = {}) {
      const r = await fetch(`${srv.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: r.status, json, text, headers: r.headers };
    },
    async close() {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
