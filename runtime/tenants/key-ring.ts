/**
 * The keys a server accepts and the tenant each one acts as. Three modes: open (no key: every
 * request is {@link LOCAL_TENANT}), one `--api-key` (that key is LOCAL_TENANT: today's single
 * tenant), or a keys file (`--keys`, keys-file.ts) re-read on `reload()` — SIGHUP once `watch()`ed.
 * A reload that fails keeps the previous keys and logs why. Comparison is constant-time: the given
 * key's SHA-256 is compared with every known key's digest by `timingSafeEqual` (fixed 32 bytes), with
 * no early exit, so time reveals neither which key matched nor how much of one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readKeysFile, type KeyEntry } from './keys-file.js';
import { LOCAL_TENANT, type Tenant, type TenantLimits } from './tenant.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export type KeyCheck = { ok: true; tenant: Tenant } | { ok: false; reason: 'missing' | 'invalid' };

export class KeyRing {
  private entries: { digest: Buffer; tenant: Tenant }[] = [];
  private tenants = new Map<string, Tenant>();
  private onHup?: () => void;
  /** Successful loads of the keys file (1 after start). */
  generation = 0;

  private constructor(readonly mode: 'open' | 'key' | 'file', private readonly file: string | undefined, private readonly log: (line: string) => void) {}

  /** An open server: no key asked. */
  static open(): KeyRing {
    return new KeyRing('open', undefined, () => {});
  }

  /** One key, acting as LOCAL_TENANT. */
  static single(key: string): KeyRing {
    const r = new KeyRing('key', undefined, () => {});
    r.entries = [{ digest: digest(key), tenant: LOCAL_TENANT }];
    r.tenants.set(LOCAL_TENANT.id, LOCAL_TENANT);
    return r;
  }

  /** Keys from a keys file; throws ConfigError (naming the key path) when it is not valid. */
  static fromFile(file: string, log: (line: string) => void = () => {}): KeyRing {
    const r = new KeyRing('file', file, log);
    r.install(readKeysFile(file));
    return r;
  }

  private install(keys: KeyEntry[]): void {
    this.entries = keys.map((k) => ({ digest: digest(k.key), tenant: Object.freeze({ ...k.tenant, limits: Object.freeze({ ...k.tenant.limits }) }) }));
    this.tenants = new Map(this.entries.map((e) => [e.tenant.id, e.tenant]));
    this.generation++;
  }

  /** Whether requests must carry a key. */
  get required(): boolean {
    return this.mode !== 'open';
  }

  /** The tenant of a presented key (undefined: none presented). */
  check(given: string | undefined): KeyCheck {
    if (this.mode === 'open') return { ok: true, tenant: LOCAL_TENANT };
    if (given === undefined) return { ok: false, reason: 'missing' };
    const d = digest(given);
    let found: Tenant | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && !found) found = e.tenant;
    return found ? { ok: true, tenant: found } : { ok: false, reason: 'invalid' };
  }

  /** Limits of a tenant by id (an owner's, e.g. when an admin acts on its session); {} when unknown. */
  limitsOf(tenantId: string): TenantLimits {
    return this.tenants.get(tenantId)?.limits ?? {};
  }

  /** Tenant ids the keys name (for metrics labels). */
  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }

  /** Re-reads the keys file; on any problem keeps the current keys and logs why. Returns whether it changed. */
  reload(): boolean {
    if (this.mode !== 'file') return false;
    try {
      const keys = readKeysFile(this.file!);
      this.install(keys);
      this.log(`--keys ${this.file}: reloaded ${keys.length} keys for ${this.tenants.size} tenants`);
      return true;
    } catch (e) {
      this.log(`warning: --keys: not reloaded, keeping the previous ${this.entries.length} keys: ${(e as Error).message}`);
      return false;
    }
  }

  /** Reloads on SIGHUP until unwatch(). */
  watch(): void {
    if (this.mode !== 'file' || this.onHup) return;
    this.onHup = () => void this.reload();
    process.on('SIGHUP', this.onHup);
  }

  unwatch(): void {
    if (this.onHup) process.off('SIGHUP', this.onHup);
    this.onHup = undefined;
  }
}
