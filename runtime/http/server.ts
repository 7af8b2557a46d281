/** Runs the HTTP app on a node http server. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { ConfigError } from '../config.js';
import type { Host } from '../host/host.js';
import { createApp } from './app.js';

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops accepting, ends open connections (streams included); the host stays open. */
  close(): Promise<void>;
}

/** Listens on `host`/`port` (port 0 = any free one) and serves the app of a started Host. */
export async function startHttpServer(host: Host, o: { hostname?: string; port?: number } = {}): Promise<RunningServer> {
  const hostname = o.hostname ?? host.config.host;
  const app = createApp(host);
  const { headersTimeoutMs, requestTimeoutMs } = host.config;
  // Slow clients: headers and the whole request must arrive in time (node checks every interval);
  // the timers stop once a request is received, so a long streamed response is never cut.
  const serverOptions = { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeoutMs / 4)) };
  const server = createAdaptorServer({ fetch: app.fetch, hostname, serverOptions }) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'the address is not available' : e.message;
      reject(new ConfigError(`cannot listen on ${hostname}:${o.port ?? host.config.port}: ${why}`, '--port'));
    };
    server.once('error', onError);
    server.listen(o.port ?? host.config.port, hostname, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
