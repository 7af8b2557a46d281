/** A local document server on 127.0.0.1 for the deep-research example: a few linked HTML pages. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const PAGES: Record<string, { title: string; body: string; links: string[] }> = {
  '/index.html': { title: 'Heat pumps: a reading list', body: 'This collection covers how heat pumps work, their efficiency, refrigerants and costs.', links: ['/how-they-work.html', '/efficiency.html', '/refrigerants.html', '/costs.html'] },
  '/how-they-work.html': { title: 'How heat pumps work', body: 'A heat pump moves heat instead of making it: a refrigerant evaporates at low pressure, taking heat from outside air, is compressed, and releases the heat indoors as it condenses.', links: ['/efficiency.html'] },
  '/efficiency.html': { title: 'Efficiency', body: 'The coefficient of performance (COP) is heat delivered per unit of electricity. Air-source heat pumps reach a seasonal COP of about 3; ground-source ones about 4. COP falls as the outdoor temperature drops.', links: ['/costs.html'] },
  '/refrigerants.html': { title: 'Refrigerants', body: 'Older units used R-410A, a potent greenhouse gas. Newer ones use R-32 or propane (R-290), whose global warming potential is far lower.', links: [] },
  '/costs.html': { title: 'Costs', body: 'Installation of an air-source heat pump costs 8,000 to 15,000 euros; running costs depend on the electricity price divided by the COP.', links: ['/index.html'] },
};

/** The running document server. */
export interface DocServer {
  url: string;
  /** GET requests served, by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 (port 0 = any free one). */
export async function startDocServer(port = 0): Promise<DocServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/$/, '/index.html');
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const page = PAGES[path];
    if (!page) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no document at ${path}`);
      return;
    }
    const links = page.links.map((l) => `<li><a href="${l}">${PAGES[l]!.title}</a></li>`).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><head><title>${page.title}</title></head><body><h1>${page.title}</h1><p>${page.body}</p><ul>${links}</ul></body></html>`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
