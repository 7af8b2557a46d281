/**
 * A full disk and a read-only data folder, on real file systems: a small tmpfs mounted for the test
 * (needs the right to mount: root or CAP_SYS_ADMIN; without it the test is skipped, saying why).
 * A full disk answers 507 `storage_full` (never a raw ENOSPC 500), /health reports it, and the same
 * session works again once space is freed — no restart — with its journal and KV slot in agreement
 * (a snapshot succeeds, a restart brings back exactly what was acknowledged). A read-only data
 * folder stops the start with a message naming the folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-support.js';

const mounts: string[] = [];
let cannotMount = '';
function mountTmpfs(options: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'resident-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

beforeAll(() => {
  try {
    mountTmpfs('size=16m');
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message);
    if (!/permission denied|must be superuser|operation not permitted|only root/i.test(why)) throw e;
    cannotMount = `cannot mount a tmpfs here (${why.trim()}): the disk-full tests need it`;
    console.log(`skipped: ${cannotMount}`);
  }
});
afterAll(() => {
  for (const d of mounts.reverse()) {
    execFileSync('umount', [d]);
    rmSync(d, { recursive: true, force: true });
  }
});

/** Fills the file system holding `dir` with one file until ENOSPC; returns its path. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1 << 16, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  try {
    for (;;) writeSync(fd, block.subarray(0, 512));
  } catch {
    // the last partial page is full too
  }
  closeSync(fd);
  return file;
}

describe('storage trouble', () => {
  let srv: TestServer | undefined;
  afterAll(async () => srv?.close());

  it('answers 507 storage_full on a full disk and recovers without a restart once space is back', async (ctx) => {
    if (cannotMount) return ctx.skip(cannotMount);
    const dataDir = join(mounts[0]!, 'data');
    srv = await startTestServer({ dataDir }, { keepData: true });
    const post = (path: string, body: unknown) => fetch(`${srv!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = (await (await post('/v1/sessions', { messages: [{ role: 'user', content: 'hello' }] })).json()) as { id: string };
    // ~1500 tokens whichever tokenizer the model has (the shared Qwen3 one or the built-in): more journal bytes
    // than a full file system's last page can hold, less than the context
    const unit = 'The quick brown fox jumps over the lazy dog. ';
    const probe = (await (await post('/v1/sessions', { messages: [{ role: 'user', content: 'probe' }] })).json()) as { id: string };
    const unitTokens = ((await (await post(`/v1/sessions/${probe.id}/messages`, { document: unit.repeat(10) })).json()) as { appended: { tokens: number } }).appended.tokens / 10;
    expect((await fetch(`${srv.url}/v1/sessions/${probe.id}`, { method: 'DELETE' })).status).toBe(200);
    const document = unit.repeat(Math.floor(1500 / unitTokens));

    const filler = fill(mounts[0]!);
    const full = await post(`/v1/sessions/${created.id}/messages`, { document });
    const fullBody = (await full.json()) as { error: { code: string; message: string } };
    expect([full.status, fullBody.error.code]).toEqual([507, 'storage_full']);
    expect(fullBody.error.message).toMatch(/no space left/);
    const fresh = await post('/v1/sessions', { messages: [{ role: 'user', content: 'x' }] });
    expect([fresh.status, ((await fresh.json()) as { error: { code: string } }).error.code]).toEqual([507, 'storage_full']);
    const sick = (await (await fetch(`${srv.url}/health`)).json()) as { status: string; storage: { ok: boolean; code?: string } };
    expect([sick.status, sick.storage.ok, sick.storage.code]).toEqual(['degraded', false, 'storage_full']);
    const session = (await (await fetch(`${srv.url}/v1/sessions/${created.id}`)).json()) as { token_count: number };

    rmSync(filler);
    await new Promise((r) => setTimeout(r, 1100)); // the health probe's cache
    expect(((await (await fetch(`${srv.url}/health`)).json()) as { status: string }).status).toBe('ok');
    const again = await post(`/v1/sessions/${created.id}/messages`, { document });
    expect(again.status).toBe(200);
    const appended = (await again.json()) as { appended: { tokens: number }; session: { token_count: number } };
    expect(appended.session.token_count).toBe(session.token_count + appended.appended.tokens);
    expect((await post(`/v1/sessions/${created.id}/snapshot`, {})).status).toBe(200); // slot and journal agree
    const gen = await post(`/v1/sessions/${created.id}/generate`, { max_tokens: 3, messages: [{ role: 'user', content: 'sum up' }] });
    expect(gen.status).toBe(200);
    const before = (await (await fetch(`${srv.url}/v1/sessions/${created.id}`)).json()) as { token_count: number; messages: unknown[] };

    await srv.server.close();
    await srv.host.close();
    srv = await startTestServer({ dataDir }, { keepData: true });
    const after = (await (await fetch(`${srv.url}/v1/sessions/${created.id}`)).json()) as { token_count: number; messages: unknown[] };
    expect([after.token_count, after.messages.length]).toEqual([before.token_count, before.messages.length]);
  });

  it('stops the start on a read-only data folder with a message naming the folder', async (ctx) => {
    if (cannotMount) return ctx.skip(cannotMount);
    const ro = mountTmpfs('size=1m,ro');
    await expect(startTestServer({ dataDir: ro })).rejects.toThrow(new RegExp(`--data ${ro}: cannot write .*${ro}.*read-only \\(EROFS\\)`));
  });
});
