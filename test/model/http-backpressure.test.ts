/**
 * Back-pressure: with every KV slot busy generating, a request for another conversation waits at most
 * --max-queue-wait, then gets 429 with Retry-After and the stable code `slots_busy` (nothing of it ran on the
 * engine); once the slot frees, the same request succeeds. The stream holding the slot is unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-support.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ slots: 1, maxQueueWaitMs: 300, defaultMaxTokens: 64 });
});
afterAll(async () => srv?.close());

/** Token ids of the end-of-turn specials, banned so the holder keeps generating for its whole budget. */
function noEnd(): Record<string, number> {
  const bias: Record<string, number> = {};
  for (const t of ['<|im_end|>', '<|endoftext|>']) {
    const id = srv.host.tokenizer.encode(t, { allowSpecial: true })[0];
    if (id === undefined) throw new Error(`no id for ${t}`);
    bias[String(id)] = -100;
  }
  return bias;
}

const post = (body: unknown) =>
  fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: srv.host.modelId, ...(body as object) }) });

describe('a full server', () => {
  it('answers 429 slots_busy with Retry-After after --max-queue-wait, then serves the retry', async () => {
    const holder = await post({ messages: [{ role: 'user', content: 'hold the slot' }], stream: true, max_tokens: 400, logit_bias: noEnd(), temperature: 0 });
    expect(holder.status).toBe(200);
    const reader = holder.body!.getReader();
    await reader.read(); // the holder's turn has started: its session holds the only slot

    const t0 = performance.now();
    const busy = await post({ messages: [{ role: 'user', content: 'another conversation' }], max_tokens: 4 });
    const waited = performance.now() - t0;
    const body = await busy.json();
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'slots_busy' });
    expect(body.error.message).toMatch(/1 KV slots stayed busy for 300 ms/);
    expect(waited).toBeGreaterThanOrEqual(290);

    const streamed = await post({ messages: [{ role: 'user', content: 'another conversation' }], max_tokens: 4, stream: true });
    expect(streamed.status).toBe(429); // streaming requests get it before the stream starts
    expect(streamed.headers.get('retry-after')).toBe('1');
    await streamed.body?.cancel();

    let text = '';
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    expect(text).toContain('[DONE]');
    expect(text).toContain('"finish_reason":"length"');

    const retry = await post({ messages: [{ role: 'user', content: 'another conversation' }], max_tokens: 4 });
    expect(retry.status).toBe(200);
    expect((await retry.json()).choices[0].message.role).toBe('assistant');
  }, 120_000);
});
