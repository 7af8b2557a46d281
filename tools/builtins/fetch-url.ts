/**
 * `fetch_url`: GET a web page with undici, guarded against SSRF. Every hop (first request and each
 * redirect) is checked by `AddressGuard` before connecting; the connection is pinned to the checked
 * addresses through the agent's `connect.lookup`, so DNS rebinding cannot reach another address.
 * Bodies are streamed and cut at `maxBytes` (after decompression); HTML becomes readable text.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, request } from 'undici';
import { BlockedAddressError, FetchUrlError } from '../errors.js';
import type { Tool } from '../tool.js';
import { AddressGuard, normalizeHost, type AddressPolicy, type CheckedAddress } from './address-guard.js';
import { htmlTitle, htmlToText, tidy } from './html-text.js';

/** Settings of `fetchUrl` / the `fetch_url` tool. */
export interface FetchUrlOptions extends AddressPolicy {
  /** Deadline for the whole fetch including redirects (default 20 000 ms). */
  timeoutMs?: number;
  /** Body bytes read after decompression; the rest is not read (default 2 MiB). */
  maxBytes?: number;
  /** Redirects followed (default 5). */
  maxRedirects?: number;
  /** `User-Agent` header. */
  userAgent?: string;
}

/** A fetched document, text already extracted. */
export interface FetchedDocument {
  /** Final URL after redirects. */
  url: string;
  status: number;
  contentType: string;
  kind: 'html' | 'text' | 'binary';
  title?: string;
  /** Extracted text ('' for binary). */
  text: string;
  /** Body bytes read (decompressed). */
  bytes: number;
  /** True when the body was longer than `maxBytes` and reading stopped. */
  truncated: boolean;
  /** URLs redirected through, in order. */
  redirects: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Fetches `url` under the policy. Throws `BlockedAddressError` / `FetchUrlError`; caller aborts rethrow their reason. */
export function fetchUrl(url: string, options: FetchUrlOptions = {}, signal?: AbortSignal): Promise<FetchedDocument> {
  return fetchGuarded(url, options, new AddressGuard(options), signal);
}

async function fetchGuarded(url: string, options: FetchUrlOptions, guard: AddressGuard, signal?: AbortSignal): Promise<FetchedDocument> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 5;
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;

  const pins = new Map<string, CheckedAddress[]>();
  const agent = new Agent({
    connect: { lookup: pinnedLookup(pins), timeout: Math.min(timeoutMs, 10_000) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const redirects: string[] = [];
  let current = parseHttpUrl(url);
  try {
    for (;;) {
      const host = normalizeHost(current.hostname);
      pins.set(host, await guard.check(current.hostname));
      if (combined.aborted) throw combined.reason;
      const res = await request(current, {
        dispatcher: agent,
        method: 'GET',
        signal: combined,
        headers: {
          'user-agent': options.userAgent ?? 'resident-fetch/0.1',
          accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,*/*;q=0.5',
          'accept-encoding': 'gzip, deflate, br',
        },
      });
      const location = header(res.headers, 'location');
      if (REDIRECTS.has(res.statusCode) && location) {
        discard(res.body);
        if (redirects.length >= maxRedirects) throw new FetchUrlError(`too many redirects (more than ${maxRedirects}) from ${url}`);
        redirects.push(current.href);
        current = parseHttpUrl(location, current);
        continue;
      }
      const contentType = header(res.headers, 'content-type') ?? '';
      const body = await readLimited(res.body, header(res.headers, 'content-encoding'), maxBytes);
      return { ...extract(body.buf, contentType, current.href), url: current.href, status: res.statusCode, contentType, bytes: body.buf.length, truncated: body.truncated, redirects };
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (deadline.aborted) throw new FetchUrlError(`fetching ${current.href} timed out after ${timeoutMs} ms`);
    if (err instanceof BlockedAddressError || err instanceof FetchUrlError) throw err;
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    throw new FetchUrlError(`fetching ${current.href} failed: ${e.code ?? e.cause?.code ?? e.name}: ${e.cause?.message ?? e.message}`);
  } finally {
    agent.destroy().catch(() => undefined);
  }
}

/** A `connect.lookup` that answers only from the checked pins; unknown names fail closed. */
function pinnedLookup(pins: Map<string, CheckedAddress[]>) {
  return (
    hostname: string,
    opts: LookupOptions,
    cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const addrs = pins.get(normalizeHost(hostname));
    if (!addrs || addrs.length === 0) {
      const err: NodeJS.ErrnoException = new Error(`no checked address for ${hostname}`);
      err.code = 'ENOTFOUND';
      cb(err, '', 0);
      return;
    }
    const fam = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    const usable = fam ? addrs.filter((a) => a.family === fam) : addrs;
    if (opts.all) cb(null, usable.map((a) => ({ address: a.address, family: a.family })));
    else if (usable[0]) cb(null, usable[0].address, usable[0].family);
    else cb(Object.assign(new Error(`no IPv${fam} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
  };
}

function parseHttpUrl(text: string, base?: URL): URL {
  let u: URL;
  try {
    u = new URL(text, base);
  } catch {
    throw new FetchUrlError(`invalid URL '${text}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FetchUrlError(`unsupported URL scheme '${u.protocol}' (only http and https)`);
  if (u.username || u.password) throw new FetchUrlError('URLs with credentials (user:password@) are not fetched');
  u.hash = '';
  return u;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads at most `max` decompressed bytes, then stops reading and destroys the stream. */
async function readLimited(body: Readable, encoding: string | undefined, max: number): Promise<{ buf: Buffer; truncated: boolean }> {
  const enc = (encoding ?? '').trim().toLowerCase();
  let stream: Readable = body;
  if (enc === 'gzip' || enc === 'x-gzip') stream = body.pipe(createGunzip());
  else if (enc === 'deflate') stream = body.pipe(createInflate());
  else if (enc === 'br') stream = body.pipe(createBrotliDecompress());
  else if (enc !== '' && enc !== 'identity') {
    discard(body);
    throw new FetchUrlError(`unsupported content-encoding '${enc}'`);
  }
  if (stream !== body) body.on('error', (e) => stream.destroy(e));
  const chunks: Buffer[] = [];
  let total = 0;
  let truncated = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const room = max - total;
      if (chunk.length > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        total = max;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      total += chunk.length;
    }
  } finally {
    if (truncated || !stream.readableEnded) {
      discard(stream);
      discard(body);
    }
  }
  return { buf: Buffer.concat(chunks, total), truncated };
}

/** Destroys a stream without leaving its abort error unhandled. */
function discard(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

const TEXTUAL = /^(text\/|application\/(json|ld\+json|xml|javascript|ecmascript|x-ndjson|yaml|x-yaml|toml|x-sh|sql|graphql|csv)\b|[a-z]+\/[a-z0-9.+-]*\+(json|xml)\b)/;

function extract(buf: Buffer, contentType: string, url: string): Pick<FetchedDocument, 'kind' | 'title' | 'text'> {
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  const head = buf.subarray(0, 1024).toString('latin1');
  const looksHtml = /^\s*(<!doctype html|<html|<head|<body)/i.test(head);
  const isHtml = mime === 'text/html' || mime === 'application/xhtml+xml' || (mime === '' && looksHtml);
  if (!isHtml && !TEXTUAL.test(mime) && (mime !== '' || buf.subarray(0, 4096).includes(0))) {
    return { kind: 'binary', text: '' };
  }
  const text = decode(buf, charsetOf(contentType) ?? (isHtml ? metaCharset(head) : undefined));
  if (isHtml) {
    const title = htmlTitle(text);
    return { kind: 'html', text: htmlToText(text, url), ...(title ? { title } : {}) };
  }
  return { kind: 'text', text: tidy(text) };
}

function charsetOf(contentType: string): string | undefined {
  return /charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1];
}

function metaCharset(head: string): string | undefined {
  return /<meta[^>]+charset\s*=\s*["']?([a-zA-Z0-9_-]+)/i.exec(head)?.[1];
}

function decode(buf: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(buf);
  } catch {
    return new TextDecoder('utf-8').decode(buf);
  }
}

/** Settings of the `fetch_url` tool. */
export interface FetchUrlToolOptions extends FetchUrlOptions {
  /** Characters of text returned per call unless the model asks for fewer (default 10 000). */
  defaultMaxLength?: number;
}

/** The `fetch_url` tool (source `builtin`). Failures come back as `isError` results or thrown named errors. */
export function createFetchUrlTool(options: FetchUrlToolOptions = {}): Tool {
  const guard = new AddressGuard(options);
  const defaultMax = options.defaultMaxLength ?? 10_000;
  return {
    name: 'fetch_url',
    source: 'builtin',
    timeoutMs: (options.timeoutMs ?? 20_000) + 1_000,
    description:
      'Fetch a web page or text document over HTTP(S) and return its readable text (HTML is converted to text). ' +
      'Long documents are returned in pieces: call again with start_index to continue.',
    inputSchema: {
      type: 'object',
      properties: {
        url: { type: 'string', format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', description: 'Absolute http or https URL' },
        max_length: { type: 'integer', minimum: 1, maximum: 100_000, description: `Characters to return (default ${defaultMax})` },
        start_index: { type: 'integer', minimum: 0, description: 'Character offset to start from (default 0)' },
      },
      required: ['url'],
      additionalProperties: false,
    },
    async call(args, ctx) {
      const doc = await fetchGuarded(String(args.url), options, guard, ctx.signal);
      const start = typeof args.start_index === 'number' ? args.start_index : 0;
      const max = typeof args.max_length === 'number' ? args.max_length : defaultMax;
      const lines = [`URL: ${doc.url}`, `Status: ${doc.status}`, `Content-Type: ${doc.contentType || '(none)'}`];
      if (doc.title) lines.push(`Title: ${doc.title}`);
      if (doc.kind === 'binary') {
        lines.push('', `[binary content, ${doc.bytes}${doc.truncated ? '+' : ''} bytes; not shown]`);
        return { content: lines.join('\n'), isError: doc.status >= 400 };
      }
      const piece = doc.text.slice(start, start + max);
      lines.push('', start >= doc.text.length && doc.text.length > 0 ? `[start_index ${start} is past the end (${doc.text.length} characters)]` : piece);
      const end = start + piece.length;
      if (end < doc.text.length) lines.push('', `[${doc.text.length - end} more characters; call fetch_url with start_index=${end} to continue]`);
      if (doc.truncated) lines.push('', `[the document was longer than the ${doc.bytes}-byte download limit; the rest was not read]`);
      return { content: lines.join('\n'), isError: doc.status >= 400 };
    },
  };
}
