/**
 * What an operator, a backup tool or a power loss leaves in `data/sessions/`: foreign entries (a
 * stray file, an empty folder, a folder without journal) do not stop the server from starting and
 * are left alone; a torn last record keeps the rest of its session; a journal damaged before its
 * end lists its session as damaged (409 when addressed) until `POST /v1/sessions/{id}/repair` — or
 * the MCP tool session_repair — cuts it before the first bad record, reporting what was dropped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJournal } from '../../sessions/journal-format.js';
import { startTestServer, type TestServer } from './http-support.js';

let srv: TestServer | undefined;
afterAll(async () => srv?.close());

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, any> });
const post = (path: string, body: unknown) => fetch(`${srv!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function mcpCall(name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  const sid = init.headers.get('mcp-session-id')!;
  await init.text();
  const sh = { ...h, 'mcp-session-id': sid, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
  await (await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: sh, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  const r = await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: sh, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }) });
  const line = (await r.text()).split('\n').find((l) => l.startsWith('data: '))!;
  return JSON.parse(line.slice(6)).result;
}

describe('damaged and foreign entries in data/sessions', () => {
  it('starts past foreign entries, keeps a torn session, lists and repairs damaged ones over HTTP and MCP', async () => {
    srv = await startTestServer({}, { keepData: true });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await json(await post('/v1/sessions', { messages: [{ role: 'system', content: `be brief ${i}` }, { role: 'user', content: `question ${i}` }] }));
      expect(r.status).toBe(201);
      ids.push(r.body.id);
      expect((await post(`/v1/sessions/${r.body.id}/messages`, { messages: [{ role: 'assistant', content: 'ok' }, { role: 'user', content: 'more' }] })).status).toBe(200);
    }
    const before = await json(await fetch(`${srv.url}/v1/sessions/${ids[0]}`));
    const dataDir = srv.dataDir;
    await srv.server.close();
    await srv.host.close();

    const root = join(dataDir, 'sessions');
    writeFileSync(join(root, 'notes.txt'), 'an operator left this');
    mkdirSync(join(root, 'EMPTY'));
    mkdirSync(join(root, 'backup-1'));
    writeFileSync(join(root, 'backup-1', 'readme'), 'x');
    const journal = (id: string) => join(root, id, 'journal.rsj');
    const recordsOf = (id: string) => decodeJournal(readFileSync(journal(id)), id, journal(id)).records;
    // ids[0]: the last record's payload never reached the disk (power loss).
    const torn = readFileSync(journal(ids[0]!));
    torn.fill(0x5a, recordsOf(ids[0]!).at(-1)!.offset + 12);
    writeFileSync(journal(ids[0]!), torn);
    // ids[1] and ids[2]: one flipped byte in a record followed by others.
    for (const id of [ids[1]!, ids[2]!]) {
      const recs = recordsOf(id);
      expect(recs.length).toBeGreaterThanOrEqual(4);
      const b = readFileSync(journal(id));
      b[recs[2]!.offset + 14] ^= 0x40;
      writeFileSync(journal(id), b);
    }

    srv = await startTestServer({ dataDir }, { keepData: false });
    expect(srv.logs.filter((l) => /ignoring .*(notes\.txt: not a folder|EMPTY: no journal\.rsj|backup-1: no journal\.rsj)/.test(l)).length).toBe(3);
    expect([existsSync(join(root, 'notes.txt')), existsSync(join(root, 'EMPTY')), existsSync(join(root, 'backup-1', 'readme'))]).toEqual([true, true, true]);

    const kept = await json(await fetch(`${srv.url}/v1/sessions/${ids[0]}`));
    expect(kept.status).toBe(200);
    expect(kept.body.messages.length).toBeGreaterThanOrEqual(2); // what the torn record annotated may go; nothing before it
    expect(kept.body.messages.slice(0, 2)).toEqual(before.body.messages.slice(0, 2));

    const listed = await json(await fetch(`${srv.url}/v1/sessions?damaged=true`));
    expect(listed.body.data.map((d: { id: string; state: string }) => [d.id, d.state]).sort()).toEqual([[ids[1], 'damaged'], [ids[2], 'damaged']].sort());
    expect(listed.body.data[0].error.message).toMatch(/corrupt at byte \d+/);
    const addressed = await json(await fetch(`${srv.url}/v1/sessions/${ids[1]}`));
    expect([addressed.status, addressed.body.error.code]).toEqual([409, 'session_damaged']);
    expect((await json(await post(`/v1/sessions/${ids[1]}/generate`, {}))).status).toBe(409);

    const repaired = await json(await post(`/v1/sessions/${ids[1]}/repair`, {}));
    expect(repaired.status).toBe(200);
    expect(repaired.body.dropped_bytes).toBeGreaterThan(0);
    expect(repaired.body.reason).toBe('record checksum mismatch');
    expect(repaired.body.session.id).toBe(ids[1]);
    expect((await fetch(`${srv.url}/v1/sessions/${ids[1]}`)).status).toBe(200);
    const twice = await json(await post(`/v1/sessions/${ids[1]}/repair`, {}));
    expect([twice.status, twice.body.error.code]).toEqual([409, 'session_not_damaged']);
    expect((await post('/v1/sessions/01NOSUCHSESSION0000000000/repair', {})).status).toBe(404);

    const list = await mcpCall('session_list', {});
    expect(list.structuredContent.damaged.map((d: { id: string }) => d.id)).toEqual([ids[2]]);
    const viaMcp = await mcpCall('session_repair', { session_id: ids[2] });
    expect(viaMcp.structuredContent.dropped_bytes).toBeGreaterThan(0);
    expect((await json(await fetch(`${srv.url}/v1/sessions?damaged=true`))).body.data).toEqual([]);
    // Cut before its first conversation record, the session is usable again from there.
    expect((await post(`/v1/sessions/${ids[2]}/generate`, { max_tokens: 2, messages: [{ role: 'user', content: 'again' }] })).status).toBe(200);
  });
});
