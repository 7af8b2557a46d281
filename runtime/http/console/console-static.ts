/**
 * The console's static files: `GET /` (index.html) and `GET /console/<file>` from runtime/console/,
 * plus Preact, its hooks and htm as ES modules from node_modules under `/console/vendor/` (no CDN,
 * no build step). The file set is fixed at start: only names listed here are served. These files hold
 * no data, so they need no API key (the page asks for it); the Host/Origin policy still applies.
 * Every answer carries a Content-Security-Policy that admits only this origin's scripts, styles and
 * fetches (plus the page's import map by its hash).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/** node_modules files served under /console/vendor/ (name → package-relative path). */
const VENDOR: Record<string, [pkg: string, file: string]> = {
  'preact.js': ['preact', 'dist/preact.module.js'],
  'hooks.js': ['preact', 'hooks/dist/hooks.module.js'],
  'htm.js': ['htm', 'dist/htm.module.js'],
  'htm-preact.js': ['htm', 'preact/index.module.js'],
};

interface Asset {
  body: Buffer;
  type: string;
}

/** True for paths of the console's static files (served without the API key). */
export function isConsoleAsset(path: string): boolean {
  return path === '/' || path.startsWith('/console/');
}

/** The folder of an installed package (its package.json may not be exported: walk up from its main file). */
function packageRoot(pkg: string): string {
  let d = dirname(createRequire(import.meta.url).resolve(pkg));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === pkg) return d;
    } catch {
      /* no package.json here */
    }
    const up = dirname(d);
    if (up === d) throw new Error(`cannot find the folder of the package '${pkg}'`);
    d = up;
  }
}

function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const name of readdirSync(CONSOLE_DIR)) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, { body: readFileSync(join(CONSOLE_DIR, name)), type });
  }
  for (const [name, [pkg, file]] of Object.entries(VENDOR)) {
    const root = packageRoot(pkg);
    out.set(`vendor/${name}`, { body: readFileSync(join(root, file)), type: TYPES['.js']! });
  }
  return out;
}

/** The CSP of the console: self only; the inline import map admitted by its sha256. */
export function consolePolicy(html: string): string {
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  const hash = map === undefined ? '' : ` 'sha256-${createHash('sha256').update(map).digest('base64')}'`;
  return [
    "default-src 'none'", `script-src 'self'${hash}`, "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

/** Registers GET / and GET /console/* on `app`. */
export function registerConsoleStatic(app: Hono): void {
  const assets = loadAssets();
  const index = assets.get('index.html');
  if (!index) throw new Error(`the console's index.html is missing from ${CONSOLE_DIR}`);
  const headers = {
    'content-security-policy': consolePolicy(index.body.toString('utf8')),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-cache',
  };
  const send = (a: Asset) => new Response(new Uint8Array(a.body), { status: 200, headers: { ...headers, 'content-type': a.type } });
  app.get('/', () => send(index));
  app.get('/console/*', (c, next) => {
    const a = assets.get(c.req.path.slice('/console/'.length));
    return a ? send(a) : next();
  });
}
