/**
 * The session API, /metrics and /health over plain fetch: create, append (messages and documents),
 * generate (plain and streamed), fork, rollback, edit, snapshot, delete; spill/restore under a small
 * slot count; a named session surviving a restart with its K/V restored from disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, WEATHER_TOOLS, type TestServer } from './http-support.js';

let srv: TestServer | undefined;

beforeAll(async () => {
  const s = await startTestServer({ slots: 2, chatSessions: 4 }, { keepData: true });
  srv = s;
});
afterAll(async () => srv?.close());

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${srv!.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

const NO_THINK = { chat_template_kwargs: { enable_thinking: false } };
const roles = (v: { messages: { role: string }[] }) => v.messages.map((m) => m.role);

describe('session API', () => {
  let id = '';

  it('creates, appends messages and documents, generates plain and streamed', async () => {
    const created = await api('POST', '/v1/sessions', { name: 'notes', tools: WEATHER_TOOLS, messages: [{ role: 'system', content: 'You read documents.' }] });
    expect(created.status).toBe(201);
    id = created.json.id;
    expect(created.json).toMatchObject({ object: 'session', name: 'notes', origin: 'api', messages: [{ role: 'system' }] });
    expect(created.json.tools).toHaveLength(2);
    expect((await api('POST', '/v1/sessions', { name: 'notes' })).status).toBe(409);

    const doc = await api('POST', `/v1/sessions/${id}/messages`, { document: 'A document about cats. '.repeat(20) });
    expect(doc.status).toBe(200);
    expect(doc.json.appended.tokens).toBeGreaterThan(20);
    expect(doc.json.appended.prefilled_tokens).toBe(doc.json.appended.tokens);

    const msg = await api('POST', '/v1/sessions/notes/messages', { messages: [{ role: 'user', content: 'Summarise it.' }] });
    expect(msg.json.appended.first_message).toBe(2);
    const tokensBefore = msg.json.session.token_count;

    const gen = await api('POST', `/v1/sessions/${id}/generate`, { max_tokens: 6, seed: 3, ...NO_THINK });
    expect(gen.status).toBe(200);
    expect(gen.json.object).toBe('chat.completion');
    const u = gen.json.usage;
    expect(u.prompt_tokens).toBe(tokensBefore + srv!.host.protocol.generationPrompt('user', { tools: WEATHER_TOOLS, enableThinking: false }).tokens.length);
    expect(u.prefilled_tokens).toBe(u.prompt_tokens - tokensBefore); // only the generation prompt

    const r = await fetch(`${srv!.url}/v1/sessions/${id}/generate`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'More.' }], stream: true, stream_options: { include_usage: true }, max_tokens: 5, seed: 4, ...NO_THINK }),
    });
    expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await r.text()).split('\n\n').filter(Boolean).map((l) => l.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.at(-1).usage.completion_tokens).toBeGreaterThan(0);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(true);

    const view = await api('GET', '/v1/sessions/notes');
    expect(roles(view.json)).toEqual(['system', 'document', 'user', 'assistant', 'user', 'assistant']);
    expect(view.json.token_count).toBeGreaterThan(tokensBefore);
  });

  it('forks (K/V copied), rolls back, edits, snapshots and deletes', async () => {
    const fork = await api('POST', `/v1/sessions/${id}/fork`, { message: 4, name: 'notes-branch' });
    expect(fork.status).toBe(201);
    expect(roles(fork.json)).toEqual(['system', 'document', 'user', 'assistant']);
    expect(fork.json.parent.id).toBe(id);
    const child = fork.json.id;
    const g = await api('POST', `/v1/sessions/${child}/generate`, { messages: [{ role: 'user', content: 'Branch question.' }], max_tokens: 3, seed: 1, ...NO_THINK });
    expect(g.json.usage.prompt_tokens_details.cached_tokens).toBe(fork.json.token_count); // the fork's history was not recomputed

    const rb = await api('POST', `/v1/sessions/${id}/rollback`, { message: 4 });
    expect(rb.status).toBe(200);
    expect(roles(rb.json)).toEqual(['system', 'document', 'user', 'assistant']);

    const before = (await api('GET', `/v1/sessions/${id}`)).json;
    const ed = await api('POST', `/v1/sessions/${id}/edit`, { message: 2, replacement: { role: 'user', content: 'Changed question.' } });
    expect(ed.status).toBe(200);
    expect(ed.json.messages[2].content).toBe('Changed question.');
    expect(roles(ed.json)).toEqual(roles(before));
    expect(ed.json.messages[3]).toEqual(before.messages[3]);

    const snap = await api('POST', `/v1/sessions/${id}/snapshot`);
    expect(snap.status).toBe(200);
    expect(snap.json.snapshot_covered).toBe(ed.json.token_count);

    const list = await api('GET', '/v1/sessions');
    expect(list.json.data.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([id, child]));
    const del = await api('DELETE', `/v1/sessions/${child}`);
    expect(del.json).toEqual({ id: child, object: 'session.deleted', deleted: true });
    expect((await api('GET', `/v1/sessions/${child}`)).status).toBe(404);
  });

  it('spills sessions beyond --slots and restores them when used', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await api('POST', '/v1/sessions', { messages: [{ role: 'user', content: `Session ${i}: ${'words '.repeat(30)}` }] });
      ids.push(s.json.id);
    }
    const metrics = await (await fetch(`${srv!.url}/metrics`)).text();
    expect(Number(/resident_sessions\{state="spilled",tenant="default"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    const first = (await api('GET', `/v1/sessions/${ids[0]}`)).json;
    expect(first.resident).toBe(false);
    const g = await api('POST', `/v1/sessions/${ids[0]}/generate`, { max_tokens: 2, seed: 1, ...NO_THINK });
    expect(g.status).toBe(200);
    expect(g.json.usage.prompt_tokens_details.cached_tokens).toBe(first.token_count); // restored from disk, not recomputed
    expect((await api('GET', `/v1/sessions/${ids[0]}`)).json.counters.restored).toBe(first.token_count);
  });

  it('/metrics and /health report the runtime', async () => {
    const r = await fetch(`${srv!.url}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/text\/plain; version=0.0.4/);
    const text = await r.text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(value(/^resident_prompt_tokens_prefilled_total\{tenant="default"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^resident_prompt_tokens_reused_total\{tenant="default"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^resident_tokens_generated_total\{tenant="default"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^resident_step_seconds_count (\d+)/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^resident_step_seconds_bucket\{le="0.1"\} \d+/m);
    expect(text).toMatch(/^resident_scheduler_queue_depth 0$/m);
    expect(value(/^resident_kv_bytes\{tenant="default"\} (\d+)/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^resident_sessions\{state="resident",tenant="default"\} [12]$/m);
    expect(text).toMatch(/^resident_http_requests_total\{route="\/v1\/sessions\/:id\/generate",method="POST",status="200"\} \d+/m);
    const h = await api('GET', '/health');
    expect(h.json).toMatchObject({ status: 'ok', model: srv!.host.modelId });
  });

  it('a named session survives a restart; its K/V comes back from disk', async () => {
    const view = (await api('GET', '/v1/sessions/notes')).json;
    const dataDir = srv!.dataDir;
    await srv!.close(); // snapshots resident sessions
    const s = await startTestServer({ dataDir, slots: 2 });
    srv = s;
    const again = (await api('GET', '/v1/sessions/notes')).json;
    expect(again.id).toBe(view.id);
    expect(again.messages).toEqual(view.messages);
    const g = await api('POST', '/v1/sessions/notes/generate', { messages: [{ role: 'user', content: 'After restart.' }], max_tokens: 2, seed: 1, ...NO_THINK });
    expect(g.json.usage.prompt_tokens_details.cached_tokens).toBe(view.token_count);
  });
});
