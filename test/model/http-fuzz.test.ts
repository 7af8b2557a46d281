/**
 * A fixed-seed sample of the fuzz benchmark (bench/fuzz.ts): 500 mutated requests over every route
 * (OpenAI, Anthropic, sessions, agent, MCP; wrong types, huge numbers, deep nesting, huge strings,
 * invalid UTF-8, wrong content types, traversal ids) — no 5xx, no hang, no crash; the server healthy after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/fuzz-requests.js';
import { startTestServer, type TestServer } from './http-support.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

describe('fuzz sample', () => {
  it('answers 500 mutated requests (seed 19) without a 5xx, a hang or a crash', async () => {
    const report = await runFuzz(srv.url, { seed: 19, count: 500, timeoutMs: 30_000, model: srv.host.modelId });
    console.log(`fuzz seed 19: ${JSON.stringify(report.byClass)} in ${report.seconds.toFixed(1)} s`);
    expect(report.failures).toEqual([]);
    expect(report.sent).toBe(500);
    expect(report.byClass['4xx']).toBeGreaterThan(200); // the mutations do reach the checks
    expect(report.byClass['2xx']).toBeGreaterThan(10); // and unmutated requests still work
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
  }, 600_000);
});
