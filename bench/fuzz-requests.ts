/**
 * Mutated requests over every route (OpenAI chat/responses, Anthropic messages, sessions, agent, MCP,
 * models/health/metrics), from a seeded generator: wrong types, huge numbers, deep nesting, huge
 * strings, invalid UTF-8, wrong content types, traversal ids, truncated JSON, dropped and unknown
 * fields. `runFuzz` sends them to a running server and counts answers by status class; a 5xx, a
 * request unanswered within the timeout (hang) or a server that stops answering (crash) is reported.
 * Used by bench/fuzz.ts (10,000+ requests) and test/model/http-fuzz.test.ts (a fixed-seed sample).
 */

/** One request to send. */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
  /** What was mutated, for reports. */
  what: string;
}

/** Counts and the requests that broke the goal (0 5xx, 0 hangs, 0 crashes). */
export interface FuzzReport {
  sent: number;
  byClass: Record<'2xx' | '3xx' | '4xx' | '5xx' | 'hang' | 'crash', number>;
  failures: Array<{ what: string; method: string; path: string; status: number | 'hang' | 'crash'; detail: string }>;
  /** The slowest answered requests, slowest first (ms): where a hang under load would come from. */
  slowest: Array<{ ms: number; status: number; what: string; method: string; path: string; i: number }>;
  seconds: number;
}

/** Mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const ODD_VALUES: Json[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 4294967296, '', ' ', '1', 'null', '\u0000', '\ud800', '<|im_start|>', '{"a":', [], [[]], {}, { a: 1 }, [null], ['x'], 'x'.repeat(300)];
const TRAVERSAL = ['../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '....//', 'a/b', '%00', 'x'.repeat(5000), '\u202e', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'CON', '.tmp-x', '-1', '%ff%fe'];

/** The live ids the generator may address (filled in by the runner as it learns them). */
export interface FuzzIds {
  session: string;
  run: string;
}

/** A valid base request per route; `ids` name a live session and agent run. */
function bases(ids: FuzzIds, model: string): Array<{ method: string; path: string; body?: Json }> {
  const user = [{ role: 'user', content: 'hi' }];
  const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } };
  const s = `/v1/sessions/${ids.session}`;
  return [
    { method: 'POST', path: '/v1/chat/completions', body: { messages: user, max_tokens: 2 } },
    { method: 'POST', path: '/v1/chat/completions', body: { messages: user, max_tokens: 2, tools: [tool], tool_choice: 'auto', response_format: { type: 'json_object' } } },
    { method: 'POST', path: '/v1/chat/completions', body: { messages: user, max_tokens: 2, stream: true, stream_options: { include_usage: true } } },
    { method: 'POST', path: '/v1/responses', body: { input: 'hi', max_output_tokens: 2 } },
    { method: 'POST', path: '/v1/messages', body: { model, max_tokens: 2, messages: user } },
    { method: 'POST', path: '/v1/messages/count_tokens', body: { model, messages: user } },
    { method: 'POST', path: '/v1/sessions', body: { messages: user, tools: [tool] } },
    { method: 'GET', path: '/v1/sessions' },
    { method: 'GET', path: s },
    { method: 'POST', path: `${s}/messages`, body: { messages: [{ role: 'user', content: 'more' }] } },
    { method: 'POST', path: `${s}/messages`, body: { document: 'a document' } },
    { method: 'POST', path: `${s}/generate`, body: { max_tokens: 2 } },
    { method: 'POST', path: `${s}/fork`, body: { message: 1 } },
    { method: 'POST', path: `${s}/rollback`, body: { message: 1 } },
    { method: 'POST', path: `${s}/edit`, body: { message: 0, replacement: { role: 'user', content: 'edited' } } },
    { method: 'POST', path: `${s}/snapshot` },
    { method: 'POST', path: `${s}/repair` },
    { method: 'POST', path: '/v1/agent/runs', body: { goal: 'say hi', max_steps: 0, max_tokens: 2, tool_sources: ['builtin'] } },
    { method: 'GET', path: '/v1/agent/runs' },
    { method: 'GET', path: `/v1/agent/runs/${ids.run}` },
    { method: 'POST', path: `/v1/agent/runs/${ids.run}/cancel` },
    { method: 'POST', path: '/mcp', body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } } } },
    { method: 'GET', path: '/v1/models' },
    { method: 'GET', path: '/health' },
    { method: 'GET', path: '/metrics' },
  ];
}

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

/** Paths of every value inside `v` (objects and arrays), root excluded. */
function slots(v: Json, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...path, i]), slots(x, [...path, i], out)));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) (out.push([...path, k]), slots(x, [...path, k], out));
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): void {
  let o = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(o)) o.splice(last as number, 1);
    else delete o[last];
  } else o[last] = value;
}

/** The `i`-th request of the stream for `seed` (deterministic). */
export function fuzzRequest(seed: number, i: number, ids: FuzzIds, model: string): FuzzRequest {
  const r = prng(seed * 1_000_003 + i);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const base = pick(bases(ids, model));
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  let path = base.path;
  let method = base.method;
  let body: Json | undefined = base.body === undefined ? undefined : clone(base.body);
  let raw: Uint8Array | string | undefined;
  const kinds = ['type', 'type', 'number', 'deep', 'huge', 'utf8', 'ctype', 'traversal', 'truncate', 'drop', 'unknown', 'method', 'body-shape', 'none'] as const;
  const kind = pick(kinds);
  let what: string = kind;
  const where = body !== undefined ? slots(body) : [];
  switch (kind) {
    case 'type':
    case 'number': {
      if (!where.length) break;
      const p = pick(where);
      const v = kind === 'number' ? pick([-1, 0, 1.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, 1e-320, 100000]) : pick(ODD_VALUES);
      setAt(body!, p, clone(v));
      what = `${kind} ${p.join('.')}=${JSON.stringify(v).slice(0, 40)}`;
      break;
    }
    case 'deep': {
      const n = pick([129, 500, 5000, 100_000]);
      const deep = '['.repeat(n) + ']'.repeat(n);
      if (where.length && r() < 0.8) {
        const p = pick(where);
        setAt(body!, p, '__DEEP__');
        raw = JSON.stringify(body).replace('"__DEEP__"', deep);
        what = `deep ${n} at ${p.join('.')}`;
      } else {
        raw = deep;
        what = `deep ${n} body`;
      }
      break;
    }
    case 'huge': {
      const ch = pick(['a', ' ', '\n', '字', '{', '"']);
      const n = pick([100_000, 1_000_000, 4_000_000]);
      const s = ch.repeat(Math.floor(n / Buffer.byteLength(ch)));
      if (where.length) {
        const p = pick(where);
        setAt(body!, p, s);
        what = `huge ${n} '${ch}' at ${p.join('.')}`;
      } else {
        raw = s;
        what = `huge ${n} body`;
      }
      break;
    }
    case 'utf8': {
      const text = JSON.stringify(body ?? {});
      const bytes = Buffer.from(text, 'utf8');
      const at = Math.floor(r() * bytes.length);
      raw = Buffer.concat([bytes.subarray(0, at), Buffer.from([pick([0xff, 0xfe, 0xc0, 0xed, 0x80]), 0xa0, 0x80]), bytes.subarray(at)]);
      what = `invalid utf-8 at ${at}`;
      break;
    }
    case 'ctype': {
      const ct = pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '', 'application/xml']);
      if (ct === '') delete headers['content-type'];
      else headers['content-type'] = ct;
      what = `content-type '${ct}'`;
      break;
    }
    case 'traversal': {
      const t = pick(TRAVERSAL);
      path = path.replace(ids.session, encodeURIComponent(t) === t ? t : pick([t, encodeURIComponent(t)])).replace(ids.run, t);
      if (path === base.path) path = `/v1/sessions/${t}`;
      what = `traversal ${JSON.stringify(t).slice(0, 40)}`;
      break;
    }
    case 'truncate': {
      const text = JSON.stringify(body ?? { a: 1 });
      raw = text.slice(0, Math.floor(r() * text.length));
      what = `truncated at ${String(raw.length)}`;
      break;
    }
    case 'drop': {
      if (!where.length) break;
      const p = pick(where);
      setAt(body!, p, undefined);
      what = `dropped ${p.join('.')}`;
      break;
    }
    case 'unknown': {
      if (body && typeof body === 'object' && !Array.isArray(body)) (body as Record<string, Json>)[pick(['__proto__', 'constructor', 'x', 'toString', ''])] = pick(ODD_VALUES);
      what = 'unknown field';
      break;
    }
    case 'method': {
      method = pick(['PUT', 'PATCH', 'DELETE', 'GET', 'POST', 'OPTIONS', 'HEAD']);
      what = `method ${method}`;
      break;
    }
    case 'body-shape': {
      raw = pick(['null', '[]', '1', '"x"', 'true', '{}', '{"a":1}{"b":2}', '\ufeff{}', ' ']);
      what = `body ${JSON.stringify(raw)}`;
      break;
    }
    case 'none':
      what = 'valid';
      break;
  }
  if (method === 'GET' || method === 'HEAD') return { method, path, headers, what };
  return { method, path, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)), what };
}

/** Sends `count` requests of `seed` to `url` (sequentially), learning live ids first; never throws. */
export async function runFuzz(url: string, o: { seed: number; count: number; timeoutMs?: number; model: string; onProgress?: (n: number, so_far: FuzzReport) => void }): Promise<FuzzReport> {
  const t0 = performance.now();
  const report: FuzzReport = { sent: 0, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, hang: 0, crash: 0 }, failures: [], slowest: [], seconds: 0 };
  const ids: FuzzIds = { session: 'none', run: 'none' };
  const learn = async () => {
    const s = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }) });
    if (s.ok) ids.session = ((await s.json()) as { id: string }).id;
    const a = await fetch(`${url}/v1/agent/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ goal: 'hi', max_steps: 0, max_tokens: 2, tool_sources: ['builtin'] }) });
    if (a.ok) ids.run = ((await a.json()) as { id: string }).id;
  };
  await learn().catch(() => undefined);
  for (let i = 0; i < o.count; i++) {
    if (i % 100 === 99) await learn().catch(() => undefined); // a fuzzed delete may have removed them
    const q = fuzzRequest(o.seed, i, ids, o.model);
    report.sent++;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), o.timeoutMs ?? 30_000);
    const started = performance.now();
    try {
      const res = await fetch(`${url}${q.path}`, { method: q.method, headers: q.headers, body: q.body as BodyInit | undefined, signal: ac.signal });
      const text = await res.text();
      const ms = performance.now() - started;
      if (report.slowest.length < 10 || ms > report.slowest.at(-1)!.ms) {
        report.slowest.push({ ms: Math.round(ms), status: res.status, what: q.what, method: q.method, path: q.path.slice(0, 80), i });
        report.slowest.sort((x, y) => y.ms - x.ms).splice(10);
      }
      const cls = `${Math.floor(res.status / 100)}xx` as '2xx';
      report.byClass[cls] = (report.byClass[cls] ?? 0) + 1;
      if (res.status >= 500) report.failures.push({ what: q.what, method: q.method, path: q.path.slice(0, 80), status: res.status, detail: text.slice(0, 300) });
    } catch (e) {
      const alive = await fetch(`${url}/health`).then(() => true, () => false);
      const kind = alive ? 'hang' : 'crash';
      report.byClass[kind]++;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      report.failures.push({ what: q.what, method: q.method, path: q.path.slice(0, 80), status: kind, detail: `${(e as Error).message}${cause ? `: ${cause.code ?? ''} ${cause.message ?? ''}` : ''} (request #${i})` });
      if (!alive) break;
    } finally {
      clearTimeout(timer);
    }
    o.onProgress?.(i + 1, report);
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
