import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import { createFetchUrlTool, fetchUrl } from '../../tools/builtins/fetch-url.js';
import { BlockedAddressError, FetchUrlError } from '../../tools/errors.js';
import { ToolRegistry } from '../../tools/registry.js';

// Every test talks only to this server on 127.0.0.1. Connection attempts are counted by wrapping
// net.connect / tls.connect (undici calls them through the module objects), so "refused before
// connecting" is observed, not assumed.
let server: Server;
let port = 0;
let connections = 0;
const hits: string[] = [];
let largeBytesSent = 0;
const connectCalls: string[] = [];
const realNetConnect = net.connect;
const realTlsConnect = tls.connect;

const PAGE = `<!doctype html><html><head><title>Test &amp; Page</title><style>body{color:red}</style>
<script>var secret = "do-not-show";</script></head><body><h1>Hello</h1><p>First&nbsp;para with <a href="/next">a link</a>.</p>
<ul><li>one</li><li>two</li></ul><!-- hidden comment --><noscript>nojs</noscript></body></html>`;

beforeAll(async () => {
  (net as { connect: unknown }).connect = (...args: unknown[]) => {
    const o = args[0] as { host?: string; port?: number };
    connectCalls.push(`${o?.host}:${o?.port}`);
    return (realNetConnect as (...a: unknown[]) => net.Socket)(...args);
  };
  (tls as { connect: unknown }).connect = (...args: unknown[]) => {
    const o = args[0] as { host?: string; port?: number };
    connectCalls.push(`tls ${o?.host}:${o?.port}`);
    return (realTlsConnect as (...a: unknown[]) => tls.TLSSocket)(...args);
  };
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = req.url ?? '/';
    if (url === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (url === '/plain') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('just   text\n\n\n\nmore');
    } else if (url === '/latin1') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' });
      res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café"
    } else if (url === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gzipSync(Buffer.from('compressed hello')));
    } else if (url === '/binary') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]));
    } else if (url === '/large') {
      // 8 MiB in 64 KiB chunks, respecting backpressure; stops when the client goes away.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = 128;
      const pump = (): void => {
        while (left > 0 && !res.destroyed) {
          left--;
          largeBytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (left === 0) res.end();
      };
      pump();
    } else if (url === '/hang') {
      // never answers
    } else if (url === '/redirect') {
      res.writeHead(302, { location: '/page' });
      res.end();
    } else if (url === '/loop') {
      res.writeHead(301, { location: '/loop' });
      res.end();
    } else if (url === '/to-loopback') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/secret` });
      res.end();
    } else if (url === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`path ${url}`);
    }
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  (net as { connect: unknown }).connect = realNetConnect;
  (tls as { connect: unknown }).connect = realTlsConnect;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const local = { allowPrivate: true, timeoutMs: 5_000 };

describe('fetch_url against a local server (allowPrivate)', () => {
  it('extracts readable text and the title from HTML, without scripts or styles', async () => {
    const doc = await fetchUrl(`http://127.0.0.1:${port}/page`, local);
    expect(doc.status).toBe(200);
    expect(doc.kind).toBe('html');
    expect(doc.title).toBe('Test & Page');
    expect(doc.text).toContain('# Hello');
    expect(doc.text).toContain('First para with [a link](http://127.0.0.1:' + port + '/next).');
    expect(doc.text).toContain('- one\n- two');
    expect(doc.text).not.toMatch(/do-not-show|color:red|hidden comment|nojs/);
  });

  it('handles plain text, declared charsets, gzip and binary content', async () => {
    expect((await fetchUrl(`http://127.0.0.1:${port}/plain`, local)).text).toBe('just text\n\nmore');
    expect((await fetchUrl(`http://127.0.0.1:${port}/latin1`, local)).text).toBe('café');
    expect((await fetchUrl(`http://127.0.0.1:${port}/gzip`, local)).text).toBe('compressed hello');
    const bin = await fetchUrl(`http://127.0.0.1:${port}/binary`, local);
    expect(bin.kind).toBe('binary');
    expect(bin.text).toBe('');
  });

  it('stops reading past the size limit', async () => {
    largeBytesSent = 0;
    const doc = await fetchUrl(`http://127.0.0.1:${port}/large`, { ...local, maxBytes: 100_000 });
    expect(doc.truncated).toBe(true);
    expect(doc.bytes).toBe(100_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(largeBytesSent).toBeLessThan(8 * 1024 * 1024); // the server was cut off, not drained
  });

  it('times out on a server that never answers', async () => {
    const t0 = Date.now();
    await expect(fetchUrl(`http://127.0.0.1:${port}/hang`, { ...local, timeoutMs: 300 })).rejects.toThrow(/timed out after 300 ms/);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('follows bounded redirects and reports them', async () => {
    const doc = await fetchUrl(`http://127.0.0.1:${port}/redirect`, local);
    expect(doc.url).toBe(`http://127.0.0.1:${port}/page`);
    expect(doc.redirects).toEqual([`http://127.0.0.1:${port}/redirect`]);
    await expect(fetchUrl(`http://127.0.0.1:${port}/loop`, { ...local, maxRedirects: 3 })).rejects.toThrow(FetchUrlError);
  });

  it('refuses a redirect to a private address that is not allowed, before connecting', async () => {
    hits.length = 0;
    const resolver = async () => [{ address: '127.0.0.1', family: 4 as const }];
    const err = await fetchUrl(`http://docs.test:${port}/to-loopback`, { allow: ['docs.test'], resolver, timeoutMs: 5_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(BlockedAddressError);
    expect(String(err.message)).toMatch(/127\.0\.0\.1.*loopback/);
    expect(hits).toEqual(['/to-loopback']); // /secret never reached
  });

  it('pins the connection to the address checked once (no second DNS answer is used)', async () => {
    let calls = 0;
    const resolver = async () => (++calls === 1 ? [{ address: '127.0.0.1', family: 4 as const }] : [{ address: '127.0.0.2', family: 4 as const }]);
    const doc = await fetchUrl(`http://pinned.test:${port}/plain`, { allowPrivate: true, resolver, timeoutMs: 5_000 });
    expect(doc.text).toBe('just text\n\nmore');
    expect(calls).toBe(1);
  });

  it('refuses a host when any resolved address is private', async () => {
    const resolver = async () => [
      { address: '93.184.216.34', family: 4 as const },
      { address: '10.1.2.3', family: 4 as const },
    ];
    await expect(fetchUrl('http://mixed.test/', { resolver })).rejects.toThrow(/10\.1\.2\.3.*private/);
  });

  it('refuses non-http schemes and credentials in URLs', async () => {
    await expect(fetchUrl('file:///etc/passwd', local)).rejects.toThrow(/unsupported URL scheme/);
    await expect(fetchUrl(`http://u:p@127.0.0.1:${port}/`, local)).rejects.toThrow(/credentials/);
  });
});

describe('fetch_url SSRF defaults: refused without any connection attempt', () => {
  const targets = [
    () => `http://127.0.0.1:${port}/`,
    () => `http://localhost:${port}/`,
    () => `http://LOCALHOST.:${port}/`,
    () => `http://[::1]:${port}/`,
    () => `http://0x7f000001:${port}/`,
    () => `http://2130706433:${port}/`,
    () => `http://0177.0.0.1:${port}/`,
    () => `http://127.1:${port}/`,
    () => `http://[::ffff:127.0.0.1]:${port}/`,
    () => `http://[::ffff:7f00:1]:${port}/`,
    () => 'http://10.0.0.1/',
    () => 'http://172.16.5.4/',
    () => 'http://192.168.1.1/',
    () => 'http://169.254.169.254/latest/meta-data/',
    () => 'http://100.64.0.1/',
    () => 'http://0.0.0.0/',
    () => 'http://224.0.0.1/',
    () => 'https://[fe80::1]/',
    () => 'http://[fd00::1]/',
    () => 'http://[::]/',
    () => 'http://[64:ff9b::a00:1]/',
    () => 'http://[2002:7f00:1::]/',
  ];

  it('refuses every private, loopback, link-local, unique-local, multicast and unspecified form', async () => {
    const before = connections;
    connectCalls.length = 0;
    const resolver = async (h: string) => {
      throw new Error(`resolver must not be asked about ${h}`);
    };
    for (const t of targets) {
      const url = t();
      const err = await fetchUrl(url, { timeoutMs: 2_000, resolver: url.includes('localhost') ? undefined : resolver }).catch((e) => e);
      expect(err, url).toBeInstanceOf(BlockedAddressError);
    }
    expect(connectCalls).toEqual([]);
    expect(connections).toBe(before);
  });

  it('control: the connect spy sees an allowed fetch', async () => {
    connectCalls.length = 0;
    await fetchUrl(`http://127.0.0.1:${port}/plain`, local);
    expect(connectCalls.length).toBe(1);
  });
});

describe('fetch_url tool through the registry', () => {
  it('returns refusals and HTTP errors as data', async () => {
    const reg = new ToolRegistry().add(createFetchUrlTool({ timeoutMs: 2_000 }));
    const refused = await reg.call({ name: 'fetch_url', arguments: JSON.stringify({ url: `http://127.0.0.1:${port}/` }) });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toMatch(/BlockedAddressError.*loopback/);

    const reg2 = new ToolRegistry().add(createFetchUrlTool({ ...local, defaultMaxLength: 20 }));
    const missing = await reg2.call({ name: 'fetch_url', arguments: { url: `http://127.0.0.1:${port}/missing` } });
    expect(missing.ok && missing.isError).toBe(true);
    expect(missing.content).toContain('Status: 404');

    const paged = await reg2.call({ name: 'fetch_url', arguments: { url: `http://127.0.0.1:${port}/page` } });
    expect(paged.content).toMatch(/call fetch_url with start_index=20 to continue/);
    const rest = await reg2.call({ name: 'fetch_url', arguments: { url: `http://127.0.0.1:${port}/page`, start_index: 20 } });
    expect(rest.content).not.toContain('# Hello');

    const bad = await reg2.call({ name: 'fetch_url', arguments: { url: 'ftp://x/' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.type).toBe('invalid_arguments');
  });
});
