/**
 * The keys file of `--keys FILE` (JSON, or YAML of the same shape):
 *   {"keys": {"<key>": {"tenant": "alpha", "role": "user" | "admin",
 *                       "limits": {"sessions": 100, "kv_bytes": "8G", "requests_per_minute": 600}}}}
 * `role` defaults to `user`; `limits` and each limit are optional (absent = unlimited). Keys are
 * printable ASCII without spaces, at least 8 characters. Keys of one tenant must state the same
 * limits (limits belong to the tenant). Every problem is a ConfigError naming the key path, with the
 * key itself shortened to its first 4 characters (the file holds secrets; messages go to logs).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseByteSize } from '../config.js';
import { TENANT_ID_RE, type Tenant, type TenantLimits, type TenantRole } from './tenant.js';

/** One key of the file. */
export interface KeyEntry {
  key: string;
  tenant: Tenant;
}

const KEY_RE = /^[\x21-\x7e]{8,512}$/;
const MAX_KEYS = 100_000;
const LIMIT_FIELDS = { sessions: 'sessions', kv_bytes: 'kvBytes', requests_per_minute: 'requestsPerMinute' } as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** A key as error messages show it. */
export const maskKey = (k: string) => JSON.stringify(`${k.slice(0, 4)}…`);

/** Parses and validates the text of a keys file; `where` prefixes every message (e.g. `--keys /etc/keys.json`). */
export function parseKeysText(text: string, where: string): KeyEntry[] {
  const fail = (path: string, msg: string): never => {
    throw new ConfigError(`${where}: ${path}: ${msg}`, '--keys');
  };
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, maxAliasCount: 0 }); // JSON is YAML 1.2; duplicate keys are refused
  } catch (e) {
    throw new ConfigError(`${where}: not valid JSON or YAML: ${(e as Error).message.split('\n')[0]}`, '--keys');
  }
  if (!isObject(doc)) fail('(top level)', 'must be an object {"keys": {...}}');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'keys') fail(k, "unknown field (the file holds only 'keys')");
  if (!isObject(d.keys)) fail('keys', 'must be an object mapping each key to {tenant, role?, limits?}');
  const keys = d.keys as Record<string, unknown>;
  const names = Object.keys(keys);
  if (names.length === 0) fail('keys', 'holds no key');
  if (names.length > MAX_KEYS) fail('keys', `holds ${names.length} keys; at most ${MAX_KEYS}`);
  const out: KeyEntry[] = [];
  const limitsOf = new Map<string, { path: string; json: string }>();
  for (const key of names) {
    const path = `keys[${maskKey(key)}]`;
    if (!KEY_RE.test(key)) fail(path, 'a key must be 8..512 printable ASCII characters without spaces');
    const e = keys[key];
    if (!isObject(e)) fail(path, 'must be an object {tenant, role?, limits?}');
    const entry = e as Record<string, unknown>;
    for (const f of Object.keys(entry)) if (!['tenant', 'role', 'limits'].includes(f)) fail(`${path}.${f}`, 'unknown field (expected tenant, role, limits)');
    if (typeof entry.tenant !== 'string' || !TENANT_ID_RE.test(entry.tenant)) fail(`${path}.tenant`, 'must be a tenant id of 1..64 letters, digits, . _ -');
    const role = entry.role ?? 'user';
    if (role !== 'user' && role !== 'admin') fail(`${path}.role`, `must be "user" or "admin", got ${JSON.stringify(role)}`);
    const limits = parseLimits(entry.limits, `${path}.limits`, fail);
    const tenant = entry.tenant as string;
    const json = JSON.stringify(limits);
    const seen = limitsOf.get(tenant);
    if (seen && seen.json !== json) fail(`${path}.limits`, `differ from those of ${seen.path} for the same tenant '${tenant}' (limits belong to the tenant)`);
    limitsOf.set(tenant, { path, json });
    out.push({ key, tenant: { id: tenant, role: role as TenantRole, limits } });
  }
  return out;
}

function parseLimits(v: unknown, path: string, fail: (path: string, msg: string) => never): TenantLimits {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(path, 'must be an object {sessions?, kv_bytes?, requests_per_minute?}');
  const o = v as Record<string, unknown>;
  const out: TenantLimits = {};
  for (const [k, x] of Object.entries(o)) {
    const field = LIMIT_FIELDS[k as keyof typeof LIMIT_FIELDS];
    if (!field) fail(`${path}.${k}`, 'unknown limit (expected sessions, kv_bytes, requests_per_minute)');
    if (k === 'kv_bytes' && typeof x === 'string') {
      try {
        out.kvBytes = parseByteSize(x, `${path}.kv_bytes`);
      } catch (e) {
        fail(`${path}.kv_bytes`, `must be a byte size such as "8G", "512M" or 1048576, got ${JSON.stringify(x)}`);
      }
      continue;
    }
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1) fail(`${path}.${k}`, `must be a positive integer${k === 'kv_bytes' ? ' or a byte size such as "8G"' : ''}, got ${JSON.stringify(x)}`);
    out[field] = x as number;
  }
  return out;
}

/** Reads and validates a keys file (ConfigError naming the file and the key path). */
export function readKeysFile(file: string): KeyEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`--keys ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, '--keys');
  }
  return parseKeysText(text, `--keys ${file}`);
}
