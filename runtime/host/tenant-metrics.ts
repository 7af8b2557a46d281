/**
 * Per-tenant series of the sessions and KV gauges: `resident_sessions{state, tenant}` and
 * `resident_kv_bytes{tenant}`, tenants bounded by a BoundedLabel (overflow → `other`).
 */
import type { MemoryReport } from '../../sessions/store.js';
import type { BoundedLabel } from './metrics.js';

type Series = { labels: Record<string, string>; value: number }[];

/** Sums `value` of each session into series keyed by the labels `key` gives it. */
function group(mem: MemoryReport, key: (s: MemoryReport['sessions'][number]) => Record<string, string> | undefined, value: (s: MemoryReport['sessions'][number]) => number): Series {
  const out = new Map<string, Series[number]>();
  for (const s of mem.sessions) {
    const labels = key(s);
    if (!labels) continue;
    const k = JSON.stringify(labels);
    const e = out.get(k) ?? { labels, value: 0 };
    e.value += value(s);
    out.set(k, e);
  }
  return [...out.values()];
}

/** Sessions by residency and owning tenant (each state present even at 0, for the default tenant). */
export function sessionsByTenant(mem: MemoryReport, ownerOf: (id: string) => string, label: BoundedLabel): Series {
  const series = group(mem, (s) => ({ state: s.resident ? 'resident' : 'spilled', tenant: label.value(ownerOf(s.id)) }), () => 1);
  return series.length ? series : [{ labels: { state: 'resident', tenant: 'default' }, value: 0 }, { labels: { state: 'spilled', tenant: 'default' }, value: 0 }];
}

/** KV bytes held by resident sessions, by owning tenant. */
export function kvBytesByTenant(mem: MemoryReport, ownerOf: (id: string) => string, label: BoundedLabel): Series {
  const series = group(mem, (s) => (s.resident ? { tenant: label.value(ownerOf(s.id)) } : undefined), (s) => s.residentBytes);
  return series.length ? series : [{ labels: { tenant: 'default' }, value: 0 }];
}
