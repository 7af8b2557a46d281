/** Starts the real server in-process on 127.0.0.1:0 with the tiny test model and a temp data dir (for http-*.test.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import _Ajv from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import type { ServeConfig } from '../../runtime/config.js';
import type { Host } from '../../runtime/host/host.js';
import type { RunningServer } from '../../runtime/http/server.js';

export interface TestServer {
  host: Host;
  server: RunningServer;
  /** Base URL without /v1. */
  url: string;
  dataDir: string;
  logs: string[];
  close(): Promise<void>;
}

/** Starts a server on the tiny model (or the model folder `o.model`). A missing prerequisite (native engine, model) throws with its reason: the tests fail, they do not skip. */
export async function startTestServer(overrides: Partial<ServeConfig> = {}, o: { keepData?: boolean; dtype?: 'f32' | 'bf16'; model?: string } = {}): Promise<TestServer> {
  const { ensureModel } = await import('../support/models.js');
  const { nativeBinding } = await import('../../engine/native.js');
  nativeBinding();
  const model = o.model ?? (await ensureModel('tiny', o.dtype ?? 'f32')).dir;
  const { serveConfig } = await import('../../runtime/config.js');
  const { Host } = await import('../../runtime/host/host.js');
  const { startHttpServer } = await import('../../runtime/http/server.js');
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'resident-http-'));
  const logs: string[] = [];
  const host = await new Host(serveConfig({ model, dataDir, host: '127.0.0.1', port: 0, threads: 2, contextTokens: 2048, defaultMaxTokens: 32, ...overrides }), { log: (l) => logs.push(l) }).start();
  const server = await startHttpServer(host);
  return {
    host, server, url: server.url, dataDir: host.config.dataDir, logs,
    async close() {
      await server.close();
      await host.close();
      if (!o.keepData) rmSync(host.config.dataDir, { recursive: true, force: true });
    },
  };
}

/** Tools used across tests. */
export const WEATHER_TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 20 }, unit: { enum: ['c', 'f'] } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function' as const,
    function: {
      name: 'add',
      description: 'Adds two integers',
      parameters: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 99 }, b: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['a', 'b'], additionalProperties: false },
    },
  },
];

type AjvCtor = new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } };
const AjvClass = ((_Ajv as unknown as { default?: AjvCtor }).default ?? _Ajv) as unknown as AjvCtor;
/** Compiles JSON Schemas for checking tool arguments and JSON answers in tests. */
export const testAjv = new AjvClass({ strict: false });

/** A server for the whole test file, with an `openai` client on it. */
export interface ServerFixture {
  srv?: TestServer;
  openai: OpenAI;
  model: string;
}

/** Starts a server in beforeAll (closing it in afterAll) and fills the returned fixture. */
export function serverFixture(overrides: Partial<ServeConfig> = {}): ServerFixture {
  const f = { model: '' } as ServerFixture;
  beforeAll(async () => {
    const s = await startTestServer(overrides);
    f.srv = s;
    f.openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: overrides.apiKey ?? 'unused', maxRetries: 0 });
    f.model = s.host.modelId;
  });
  afterAll(async () => f.srv?.close());
  return f;
}
