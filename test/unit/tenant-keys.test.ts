/**
 * The keys file (JSON and YAML), its validation messages naming the key path, the KeyRing's modes and
 * its SIGHUP reload (a real signal to this process; an invalid new file keeps the old keys), the
 * per-tenant rate limiter and the bounded metrics label.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BoundedLabel } from '../../runtime/host/metrics.js';
import { KeyRing } from '../../runtime/tenants/key-ring.js';
import { parseKeysText } from '../../runtime/tenants/keys-file.js';
import { RateLimiter, TenantLimitError } from '../../runtime/tenants/limits.js';
import { LOCAL_TENANT } from '../../runtime/tenants/tenant.js';

const dir = mkdtempSync(join(tmpdir(), 'resident-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEYS = {
  keys: {
    'sk-alpha-0001': { tenant: 'alpha', role: 'user', limits: { sessions: 100, kv_bytes: '8G', requests_per_minute: 600 } },
    'sk-beta-00001': { tenant: 'beta' },
    'sk-root-00001': { tenant: 'ops', role: 'admin' },
  },
};

const YAML_TEXT = `keys:
  sk-alpha-0001:
    tenant: alpha
    role: user
    limits: {sessions: 100, kv_bytes: 8G, requests_per_minute: 600}
  sk-beta-00001:
    tenant: beta
  sk-root-00001: {tenant: ops, role: admin}
`;

describe('keys file', () => {
  it('reads JSON and YAML of the same shape to the same tenants', () => {
    const j = parseKeysText(JSON.stringify(KEYS), 'keys.json');
    expect(j).toEqual([
      { key: 'sk-alpha-0001', tenant: { id: 'alpha', role: 'user', limits: { sessions: 100, kvBytes: 8 * 2 ** 30, requestsPerMinute: 600 } } },
      { key: 'sk-beta-00001', tenant: { id: 'beta', role: 'user', limits: {} } },
      { key: 'sk-root-00001', tenant: { id: 'ops', role: 'admin', limits: {} } },
    ]);
    expect(parseKeysText(YAML_TEXT, 'keys.yaml')).toEqual(j);
  });

  const bad: [string, unknown | string, RegExp][] = [
    ['not JSON or YAML', '{"keys": {', /^k: not valid JSON or YAML/],
    ['a list', [], /\(top level\): must be an object/],
    ['an unknown top field', { keys: KEYS.keys, extra: 1 }, /^k: extra: unknown field/],
    ['no keys', { keys: {} }, /^k: keys: holds no key/],
    ['a short key', { keys: { short: { tenant: 'a' } } }, /^k: keys\["shor…"\]: a key must be 8\.\.512 printable/],
    ['a key with a space', { keys: { 'sk alpha 01': { tenant: 'a' } } }, /keys\["sk a…"\]: a key must be/],
    ['a missing tenant', { keys: { 'sk-alpha-0001': {} } }, /^k: keys\["sk-a…"\]\.tenant: must be a tenant id/],
    ['a bad tenant id', { keys: { 'sk-alpha-0001': { tenant: 'al pha' } } }, /keys\["sk-a…"\]\.tenant: must be a tenant id/],
    ['a bad role', { keys: { 'sk-alpha-0001': { tenant: 'a', role: 'root' } } }, /keys\["sk-a…"\]\.role: must be "user" or "admin", got "root"/],
    ['an unknown entry field', { keys: { 'sk-alpha-0001': { tenant: 'a', quota: 1 } } }, /keys\["sk-a…"\]\.quota: unknown field/],
    ['a bad byte size', { keys: { 'sk-alpha-0001': { tenant: 'a', limits: { kv_bytes: '8X' } } } }, /keys\["sk-a…"\]\.limits\.kv_bytes: must be a byte size such as "8G"/],
    ['a zero session limit', { keys: { 'sk-alpha-0001': { tenant: 'a', limits: { sessions: 0 } } } }, /keys\["sk-a…"\]\.limits\.sessions: must be a positive integer, got 0/],
    ['a fractional rate', { keys: { 'sk-alpha-0001': { tenant: 'a', limits: { requests_per_minute: 1.5 } } } }, /limits\.requests_per_minute: must be a positive integer, got 1\.5/],
    ['an unknown limit', { keys: { 'sk-alpha-0001': { tenant: 'a', limits: { tokens: 5 } } } }, /limits\.tokens: unknown limit/],
    ['limits differing within a tenant', { keys: { 'sk-alpha-0001': { tenant: 'a', limits: { sessions: 1 } }, 'sk-alpha-0002': { tenant: 'a', limits: { sessions: 2 } } } }, /keys\["sk-a…"\]\.limits: differ from those of keys\["sk-a…"\] for the same tenant 'a'/],
    ['a duplicated key', '{"keys": {"sk-alpha-0001": {"tenant": "a"}, "sk-alpha-0001": {"tenant": "b"}}}', /^k: not valid JSON or YAML: .*[Uu]nique/],
  ];
  it.each(bad)('refuses %s, naming the key path', (_what, doc, re) => {
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
    expect(() => parseKeysText(text, 'k')).toThrow(re);
    try {
      parseKeysText(text, 'k');
    } catch (e) {
      expect((e as Error).message).not.toMatch(/sk-alpha-0001/); // never the whole key
      expect((e as { flag?: string }).flag).toBe('--keys');
    }
  });
});

describe('key ring', () => {
  it('open: no key needed, every request is the local admin tenant', () => {
    const r = KeyRing.open();
    expect(r.required).toBe(false);
    expect(r.check(undefined)).toEqual({ ok: true, tenant: LOCAL_TENANT });
  });

  it('one --api-key: that key is the local admin tenant, anything else is refused', () => {
    const r = KeyRing.single('secret-key');
    expect(r.check('secret-key')).toEqual({ ok: true, tenant: LOCAL_TENANT });
    expect(r.check('secret-kez')).toEqual({ ok: false, reason: 'invalid' });
    expect(r.check('')).toEqual({ ok: false, reason: 'invalid' });
    expect(r.check(undefined)).toEqual({ ok: false, reason: 'missing' });
  });

  it('a keys file: each key acts as its tenant; SIGHUP re-reads it and a broken file keeps the old keys', async () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify(KEYS));
    const log: string[] = [];
    const r = KeyRing.fromFile(file, (l) => log.push(l));
    expect(r.check('sk-alpha-0001')).toMatchObject({ ok: true, tenant: { id: 'alpha', role: 'user' } });
    expect(r.check('sk-root-00001')).toMatchObject({ ok: true, tenant: { id: 'ops', role: 'admin' } });
    expect(r.check('sk-gamma-0001')).toEqual({ ok: false, reason: 'invalid' });
    expect(r.limitsOf('alpha')).toEqual({ sessions: 100, kvBytes: 8 * 2 ** 30, requestsPerMinute: 600 });
    r.watch();
    try {
      const hup = async (gen: number, logs: number) => {
        process.kill(process.pid, 'SIGHUP');
        for (let i = 0; i < 200 && (r.generation !== gen || log.length < logs); i++) await new Promise((res) => setTimeout(res, 10));
      };
      writeFileSync(file, JSON.stringify({ keys: { 'sk-gamma-0001': { tenant: 'gamma' }, 'sk-root-00001': { tenant: 'ops', role: 'admin' } } }));
      await hup(2, 1);
      expect(r.generation).toBe(2);
      expect(log[0]).toMatch(/reloaded 2 keys for 2 tenants/);
      expect(r.check('sk-gamma-0001')).toMatchObject({ ok: true, tenant: { id: 'gamma' } });
      expect(r.check('sk-alpha-0001')).toEqual({ ok: false, reason: 'invalid' }); // removed keys stop working
      writeFileSync(file, JSON.stringify({ keys: { 'sk-gamma-0001': { tenant: 'gamma', role: 'owner' } } }));
      await hup(2, 2);
      expect(log[1]).toMatch(/not reloaded, keeping the previous 2 keys: .*keys\["sk-g…"\]\.role: must be "user" or "admin"/);
      expect(r.generation).toBe(2);
      expect(r.check('sk-gamma-0001')).toMatchObject({ ok: true, tenant: { id: 'gamma', role: 'user' } });
    } finally {
      r.unwatch();
    }
  });

  it('a missing keys file is a ConfigError naming it', () => {
    expect(() => KeyRing.fromFile(join(dir, 'nope.json'))).toThrow(/--keys .*nope\.json: cannot read: ENOENT/);
  });
});

describe('limits', () => {
  it('requests_per_minute: a bucket of the limit, refilled per second, 429 tenant_limit with Retry-After', () => {
    const rl = new RateLimiter();
    const t = { id: 'alpha', role: 'user' as const, limits: { requestsPerMinute: 3 } };
    for (let i = 0; i < 3; i++) rl.take(t, 1000);
    let err: unknown;
    try {
      rl.take(t, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TenantLimitError);
    expect(err).toMatchObject({ status: 429, code: 'tenant_limit', limit: 'requests_per_minute', retryAfterSeconds: 20 });
    expect((err as Error).message).toMatch(/tenant 'alpha' is over its limit requests_per_minute = 3/);
    rl.take(t, 21_000); // one request refilled after 20 s
    expect(() => rl.take(t, 21_000)).toThrow(TenantLimitError);
    rl.take({ ...t, id: 'beta' }, 21_000); // buckets are per tenant
    rl.take({ id: 'gamma', role: 'user', limits: {} }, 0); // no limit
  });

  it('the tenant label keeps the first values and reports later ones as other', () => {
    const l = new BoundedLabel(2);
    l.seed(['alpha']);
    expect([l.value('alpha'), l.value('beta'), l.value('gamma'), l.value('beta')]).toEqual(['alpha', 'beta', 'other', 'beta']);
  });
});
