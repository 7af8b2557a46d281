/**
 * The web console in a real browser (Debian's chromium driven by playwright-core) against a real
 * server on the tiny model, with an API key: the page asks for the key and keeps it out of URLs, lists
 * sessions created through the API with their origin, shows a transcript with a tool call and its
 * result, forks at a message (the fork appears in the tree), and streams an agent run's steps while the
 * run is provably still running (its tool waits on a gate the test opens). Writes a screenshot of each
 * page to test/model/console/*.png. Skips (printing why) only when no Chromium is installed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, removeDir, skipReason, startTestServer, tempDir, type TestServer } from '../fixtures/agent/harness.js';
import { WEATHER_TOOLS } from './http-support.js';

const CHROMIUM = process.env.RESIDENT_CHROMIUM ?? '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set RESIDENT_CHROMIUM)`;
if (noBrowser) console.log(`console-browser tests skipped: ${noBrowser}`);

const SHOTS = fileURLToPath(new URL('./console/', import.meta.url));
const KEY = 'console-test-key-7f3a';

let srv: TestServer | undefined;
let browser: Browser | undefined;
let page: Page;
let dir = '';
const problems: string[] = [];
const requests: { url: string; auth?: string }[] = [];

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${srv!.url}${path}`, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json() as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

// Generous timeouts: the browser shares the machine with builds and other test runs.
describe.skipIf(noBrowser !== null)('web console (chromium)', { timeout: 300_000 }, () => {
  let weatherId = '';
  beforeAll(async () => {
    await skipReason();
    dir = tempDir('resident-console-');
    const mcp = join(dir, 'mcp.json');
    writeFileSync(mcp, JSON.stringify({ mcpServers: { gate: { command: process.execPath, args: ['--import', 'tsx', join(REPO, 'test/fixtures/console/gate-server.ts'), join(dir, 'gate-open')], cwd: REPO } } }));
    srv = await startTestServer({ config: { apiKey: KEY, mcpConfig: mcp } });
    // A conversation with a tool call, appended group by group through the session API (origin 'api').
    const s = await api('POST', '/v1/sessions', { name: 'weather-chat', tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'What is the weather in Paris?' }] });
    weatherId = s.id as string;
    await api('POST', `/v1/sessions/${weatherId}/messages`, { messages: [{ role: 'assistant', content: null, reasoning_content: 'The user wants the weather; call the tool.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }] }] });
    await api('POST', `/v1/sessions/${weatherId}/messages`, { messages: [{ role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":18,"sky":"clear"}' }] });
    await api('POST', `/v1/sessions/${weatherId}/messages`, { messages: [{ role: 'assistant', content: 'It is 18 °C and clear in Paris.' }] });
    // A chat-completions turn (origin 'chat'; recorded in the recent turns).
    await api('POST', '/v1/chat/completions', { model: srv.host.modelId, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 8 });
    // A stored Responses conversation (origin 'responses').
    await api('POST', '/v1/responses', { model: srv.host.modelId, input: 'Remember the number 7.', max_output_tokens: 8, store: true });
    mkdirSync(SHOTS, { recursive: true });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(120_000);
    page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    if (dir) removeDir(dir);
    if (srv) removeDir(srv.dataDir);
  });

  it('asks for the key once, then lists the sessions created through the API with their origin', async () => {
    const res = await fetch(`${srv!.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect((await fetch(`${srv!.url}/v1/console/sessions`)).status).toBe(401); // the data needs the key
    await page.goto(`${srv!.url}/`);
    await page.fill('#api-key', 'wrong-key');
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('text=The server refused the key');
    await page.fill('#api-key', KEY);
    await page.press('#api-key', 'Enter');
    const row = page.locator(`#sessions tr[data-id="${weatherId}"]`);
    await row.waitFor();
    expect(await row.locator('td').nth(1).innerText()).toBe('api');
    expect(await row.locator('td').nth(4).innerText()).toMatch(/resident|spilled/);
    await page.locator('#sessions td:has-text("chat")').first().waitFor();
    await page.selectOption('#kind', 'chat');
    expect(await page.locator('#sessions tbody tr').count()).toBe(1);
    await page.selectOption('#kind', 'responses');
    expect(await page.locator('#sessions tbody tr').count()).toBe(1);
    await page.selectOption('#kind', '');
    await page.fill('#filter', 'weather');
    expect(await page.locator('#sessions tbody tr').count()).toBe(1);
    await page.fill('#filter', '');
    await shot('sessions');
    expect(await page.evaluate(() => sessionStorage.getItem('resident.apiKey'))).toBe(KEY);
  });

  it('shows the transcript with the tool call, its result, thinking and token ranges', async () => {
    await page.click(`#sessions tr[data-id="${weatherId}"] a`);
    await page.waitForSelector('#transcript');
    const call = page.locator('#transcript .msg[data-message="1"] .toolcall');
    expect(await call.locator('summary code').innerText()).toBe('get_weather');
    expect(JSON.parse(await call.locator('pre').innerText())).toEqual({ city: 'Paris', unit: 'c' });
    expect(await page.locator('#transcript .msg[data-message="2"] .toolresult pre').innerText()).toContain('"temp_c":18');
    expect(await page.locator('#transcript .msg[data-message="1"] .thinking summary').innerText()).toMatch(/thinking/);
    const detail = await api('GET', `/v1/console/sessions/${weatherId}`) as { transcript: { groups: { from: number; to: number }[] } };
    const g = detail.transcript.groups[1]!;
    expect(await page.locator(`#transcript .group[data-from="${g.from}"] .group-head`).innerText()).toContain(`tokens ${g.from}–${g.to}`);
    await shot('session');
  });

  it('forks at a message after confirmation; the fork appears in the tree', async () => {
    await page.click('#transcript .msg[data-message="2"] .fork-at');
    await page.waitForSelector('.modal');
    await page.click('.modal .confirm-yes');
    await page.waitForFunction((id) => location.hash.startsWith('#/session/') && !location.hash.endsWith(id), weatherId);
    const childId = decodeURIComponent(await page.evaluate(() => location.hash.slice('#/session/'.length)));
    const child = await api('GET', `/v1/sessions/${childId}`) as { parent: { id: string }; messages: unknown[] };
    expect(child.parent.id).toBe(weatherId);
    expect(child.messages).toHaveLength(2);
    await page.waitForSelector(`#fork-tree [data-node="${childId}"]`);
    expect(await page.locator(`#fork-tree [data-node="${weatherId}"]`).innerText()).toContain('weather-chat');
    expect(await page.locator(`#fork-tree [data-node="${childId}"]`).innerText()).toContain('forked before message 2');
    await shot('fork');
  });

  it('chats with the fork through the session API: the reply streams in, with time to first token and rate', async () => {
    const childId = decodeURIComponent(await page.evaluate(() => location.hash.slice('#/session/'.length)));
    await page.fill('#chat-input', 'And tomorrow?');
    await page.fill('#chat-pane input[type=number]', '12');
    await page.click('#chat-send');
    await page.waitForSelector('#chat-figures:has-text("tokens/s")');
    // at most the 12 asked for (the random model may sample its end-of-turn token sooner)
    const figures = /time to first token [\d,]+ ms · (\d+) tokens? · [\d.,]+ tokens\/s/.exec(await page.locator('#chat-figures').innerText());
    expect(figures, 'the figures line').not.toBeNull();
    expect(Number(figures![1])).toBeGreaterThanOrEqual(1);
    expect(Number(figures![1])).toBeLessThanOrEqual(12);
    const child = await api('GET', `/v1/sessions/${childId}`) as { messages: { role: string; content: unknown }[] };
    expect(child.messages.slice(2).map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(child.messages[2]!.content).toBe('And tomorrow?');
    await page.waitForSelector('#transcript .msg[data-message="3"]'); // the page reloaded the transcript
    expect(await page.locator('#chat-reply').innerText()).toBe(String(child.messages[3]!.content ?? ''));
    await shot('chat');
  });

  it('snapshots, rolls back and deletes after confirmation, and the marks follow', async () => {
    const childId = decodeURIComponent(await page.evaluate(() => location.hash.slice('#/session/'.length)));
    await page.click('#snapshot');
    await page.click('.modal .confirm-yes');
    await page.waitForSelector('text=/snapshot: \\d+ positions written/');
    const covered = ((await api('GET', `/v1/console/sessions/${childId}`)) as { snapshot_covered: number; token_count: number });
    expect(covered.snapshot_covered).toBe(covered.token_count);
    await page.waitForSelector(`.legend:has-text("snapshot on disk ${covered.token_count}")`);
    await page.click('#transcript .msg[data-message="2"] .rollback-at');
    await page.click('.modal .confirm-no'); // cancelled: nothing changes
    expect(((await api('GET', `/v1/sessions/${childId}`)) as { messages: unknown[] }).messages).toHaveLength(4);
    await page.click('#transcript .msg[data-message="2"] .rollback-at');
    await page.click('.modal .confirm-yes');
    await page.waitForFunction(() => document.querySelectorAll('#transcript .msg').length === 2);
    expect(((await api('GET', `/v1/sessions/${childId}`)) as { messages: unknown[] }).messages).toHaveLength(2);
    await page.click('#delete');
    await page.click('.modal .confirm-yes');
    await page.waitForSelector(`#sessions tr[data-id="${weatherId}"]`);
    expect(await page.locator(`#sessions tr[data-id="${childId}"]`).count()).toBe(0);
    expect((await fetch(`${srv!.url}/v1/sessions/${childId}`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404);
  });

  it('streams an agent run\'s steps live: the tool call shows while the run waits on its tool', async () => {
    await page.click('nav a[href="#/live"]');
    await page.fill('#run-goal', 'Wait for the gate, then report.');
    await page.fill('#run-sources', 'mcp:gate');
    await page.selectOption('#run-choice', 'required');
    await page.fill('#run-steps', '1');
    await page.fill('#run-tokens', '96');
    await page.click('#run-start');
    await page.waitForSelector('#run-view .ev-tool_call', { timeout: 90_000 });
    await page.waitForSelector('#run-view .ev-waiting');
    expect(await page.locator('#run-status').getAttribute('data-status')).toBe('running');
    const runs = await api('GET', '/v1/agent/runs') as { data: { run_id: string; status: string }[] };
    expect(runs.data.map((r) => r.status)).toEqual(['running']); // the page saw the call before the run went on
    const names = await page.locator('#run-view .ev-tool_call summary code').allInnerTexts();
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names)).toEqual(new Set(['gate__wait_gate']));
    await shot('live-running');
    writeFileSync(join(dir, 'gate-open'), '');
    await page.waitForSelector('#run-view .ev-tool_result[data-ok="true"]');
    await page.waitForSelector('#run-status:not([data-status="running"])', { timeout: 120_000 });
    expect(await page.locator('#run-status').getAttribute('data-status')).toBe('max_steps');
    await page.waitForSelector('#turns tbody tr');
    await shot('live');
  });

  it('shows the server: model, kernels, threads, memory, slots and plots', async () => {
    await page.click('nav a[href="#/server"]');
    await page.waitForSelector('#memory');
    const text = await page.locator('section.server').innerText();
    expect(text).toContain(srv!.host.engine.kernels);
    expect(text).toMatch(/threads\s*2/);
    expect(text).toMatch(/slots in use\s*\d+ of 4/);
    expect(await page.locator('.plot').count()).toBe(5);
    await shot('server');
    await page.click('nav a[href="#/sessions"]');
    await page.waitForSelector('#sessions tbody tr');
    const kinds = new Set(await page.locator('#sessions tbody td:nth-child(2)').allInnerTexts());
    expect(kinds).toEqual(new Set(['api', 'chat', 'responses', 'agent']));
    await shot('sessions-all');
  });

  it('kept the key out of every URL, sent it on every API call, and met no script or CSP error', () => {
    expect(requests.length).toBeGreaterThan(10);
    for (const r of requests) expect(r.url).not.toContain(KEY);
    const apiCalls = requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
    expect(apiCalls.length).toBeGreaterThan(5);
    // The first call (before the key was known) and the refused one carry no or a wrong key; every other call carries it.
    expect(apiCalls.slice(2).every((r) => r.auth === `Bearer ${KEY}`)).toBe(true);
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
  });
});
