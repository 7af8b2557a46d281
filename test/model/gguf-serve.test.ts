/**
 * `resident serve --model FILE.gguf` over real HTTP: the same greedy chat completions (with tools) as the Hugging
 * Face folder of the same weights, the model id from the file name; a folder holding two GGUF models is a ConfigError.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, serveConfig } from '../../runtime/config.js';
import { Host } from '../../runtime/host/host.js';
import { ensureModel } from '../support/models.js';
import { startTestServer, WEATHER_TOOLS } from './http-support.js';

const tmp = mkdtempSync(join(tmpdir(), 'resident-gguf-serve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function complete(model: string): Promise<{ id: string; content: unknown; calls: unknown }> {
  const s = await startTestServer({ activations: 'f32' }, { model });
  try {
    const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string }[] };
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: models.data[0]!.id, temperature: 0, max_tokens: 12, tools: WEATHER_TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: unknown; tool_calls?: unknown } }[] };
    return { id: models.data[0]!.id, content: body.choices[0]!.message.content, calls: body.choices[0]!.message.tool_calls ?? null };
  } finally {
    await s.close();
  }
}

describe('serve --model FILE.gguf', () => {
  it('answers as the Hugging Face folder of the same weights does', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const file = join(tmp, 'tiny-bf16.gguf');
    copyFileSync(m.gguf!, file);
    const [hf, gguf] = [await complete(m.dir), await complete(file)];
    expect(gguf.id).toBe('tiny-bf16');
    expect(gguf.content).toEqual(hf.content);
    expect(gguf.calls).toEqual(hf.calls);
    expect(typeof gguf.content === 'string' || gguf.calls !== null).toBe(true);
  }, 300_000);

  it('a folder holding two GGUF models is a ConfigError on --model', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const dir = join(tmp, 'two');
    mkdirSync(dir);
    copyFileSync(m.gguf!, join(dir, 'a.gguf'));
    copyFileSync(m.gguf!, join(dir, 'b.gguf'));
    const err = await new Host(serveConfig({ model: dir, dataDir: join(tmp, 'data'), port: 0, threads: 2 }), { log: () => {} }).start().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/holds 2 GGUF models/);
  }, 120_000);
});
