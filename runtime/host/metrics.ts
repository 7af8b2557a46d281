/**
 * A minimal Prometheus registry: counters, gauges (sampled by callback at scrape time) and
 * histograms, rendered in the text exposition format 0.0.4. Metric names must be unique.
 */

type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const escLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels | undefined, extra?: [string, string]) => {
  const parts = Object.entries(l ?? {}).map(([k, v]) => `${k}="${escLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const num = (x: number) => (Number.isFinite(x) ? String(x) : x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN');

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

/** A monotonically increasing counter (optionally split by one set of labels). */
export class Counter {
  private values = new Map<string, { labels?: Labels; value: number }>();
  constructor(readonly name: string) {}
  inc(by = 1, labels?: Labels): void {
    if (!(by >= 0)) return;
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.value += by;
    else this.values.set(key, { labels, value: by });
  }
  /** Current value for `labels` (0 if never incremented). */
  get(labels?: Labels): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  /** Sum over every label set. */
  total(): number {
    let t = 0;
    for (const v of this.values.values()) t += v.value;
    return t;
  }
  lines(): string[] {
    if (this.values.size === 0) return [`${this.name} 0`];
    return [...this.values.values()].map((v) => `${this.name}${labelText(v.labels)} ${num(v.value)}`);
  }
}

/** A histogram with fixed upper bounds (seconds, bytes…). */
export class Histogram {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }
  observe(x: number): void {
    if (!Number.isFinite(x)) return;
    this.sum += x;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (x <= this.bounds[i]!) this.counts[i]!++;
  }
  get observations(): number {
    return this.count;
  }
  /** Sum of the observed values. */
  get total(): number {
    return this.sum;
  }
  lines(): string[] {
    const out = this.bounds.map((b, i) => `${this.name}_bucket{le="${num(b)}"} ${this.counts[i]}`);
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${num(this.sum)}`, `${this.name}_count ${this.count}`);
    return out;
  }
}

/** Holds metrics and renders them. */
export class MetricsRegistry {
  private metrics: Metric[] = [];

  private add(m: Metric): void {
    if (!NAME_RE.test(m.name)) throw new RangeError(`invalid metric name '${m.name}'`);
    if (this.metrics.some((x) => x.name === m.name)) throw new RangeError(`metric '${m.name}' registered twice`);
    this.metrics.push(m);
  }

  counter(name: string, help: string): Counter {
    const c = new Counter(name);
    this.add({ name, help, type: 'counter', render: () => c.lines() });
    return c;
  }

  /** A gauge read at scrape time; `read` returns one value or labelled values. */
  gauge(name: string, help: string, read: () => number | { labels: Labels; value: number }[]): void {
    this.add({
      name, help, type: 'gauge',
      render: () => {
        const v = read();
        return typeof v === 'number' ? [`${name} ${num(v)}`] : v.map((x) => `${name}${labelText(x.labels)} ${num(x.value)}`);
      },
    });
  }

  /** A counter whose value is read at scrape time (e.g. totals kept elsewhere). */
  counterFrom(name: string, help: string, read: () => number): void {
    this.add({ name, help, type: 'counter', render: () => [`${name} ${num(read())}`] });
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    const h = new Histogram(name, bounds);
    this.add({ name, help, type: 'histogram', render: () => h.lines() });
    return h;
  }

  /** Text exposition format (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return out.join('\n') + '\n';
  }
}

/** Latency buckets in seconds, 0.5 ms … 30 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Bounds the distinct values of one label (e.g. `tenant`): the first `cap` values seen keep their
 * name, every later one is reported as `other`, so a scrape never grows without bound.
 */
export class BoundedLabel {
  private seen = new Set<string>();
  constructor(readonly cap = 32) {}

  /** Registers values ahead of traffic (e.g. the tenants of the keys file), within the cap. */
  seed(values: Iterable<string>): void {
    for (const v of values) this.value(v);
  }

  /** The label value to report for `v`. */
  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.cap) return 'other';
    this.seen.add(v);
    return v;
  }
}
