/**
 * A turn's tokens do not depend on how its prompt reached the slot: the same request answered cold
 * (non-streamed and streamed, each on a new named session), resumed on its own reused prefix (the named
 * session rolled back to the prompt, only the last position recomputed; non-streamed and streamed) and
 * resumed after a server restart yields identical tokens, through the HTTP server with seeded sampling on
 * the tiny model (random BF16 weights). With bf16 activations every matmul input is rounded to bf16, so a
 * last-bit difference between the prefill's and the decode's kernels grows into another sampled token: the
 * first token's logits must come from the same path every time (engine/scheduler.ts holds a prompt's last
 * token back for a step of its own), and a resent request keeps the generation prompt's K/V instead of
 * recomputing it in a chunk of another size (runtime/chat/turn.ts). Beyond the tokens, the logits after each
 * turn are compared bit for bit: they are equal only if the session's K/V is. The f32 variant runs
 * everywhere; the bf16 one needs AVX512_BF16.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16DotAvailable } from '../../engine/native.js';
import { startTestServer, type TestServer } from './http-support.js';

const PROMPTS = [
  'Summarise the plot of a detective story in three sentences.',
  'List five uses of a paperclip.',
  'Write a haiku about compilers.',
  'Explain what a hash map is to a child.',
  'Give me a shell command that counts lines in all .ts files.',
  'What is the capital of France, and why?',
];
const SYSTEM = 'You are a terse assistant. Answer in plain text.';
const MAX_TOKENS = 24;

interface Answer {
  text: string;
  session: string;
  completion: number;
  cached: number;
  prompt: number;
}

async function ask(srv: TestServer, user: string, session: string, stream: boolean): Promise<Answer> {
  const body = {
    model: srv.host.modelId, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: user }],
    max_tokens: MAX_TOKENS, temperature: 1, seed: 1234, session_id: session,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
  const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  type Usage = { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
  const answer = (u: Usage, text: string, id: string): Answer => ({ text, session: id, completion: u.completion_tokens, cached: u.prompt_tokens_details.cached_tokens, prompt: u.prompt_tokens });
  if (!stream) {
    const j = (await r.json()) as { choices: { message: { content: string | null } }[]; usage: Usage; session_id: string };
    return answer(j.usage, j.choices[0]!.message.content ?? '', j.session_id);
  }
  let text = '';
  let usage: Usage | undefined;
  let id = '';
  for (const line of (await r.text()).split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const c = JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[]; usage?: Usage; session_id?: string };
    for (const ch of c.choices) text += ch.delta.content ?? '';
    if (c.usage) usage = c.usage;
    id ||= c.session_id ?? '';
  }
  expect(usage, 'the stream ends with its usage').toBeDefined();
  return answer(usage!, text, id);
}

/**
 * The next-token logits after the whole session (prompt, answer, closing tokens), as bytes: equal only if
 * every K/V the session holds was computed the same way (the last position is recomputed alone).
 */
async function logitsAfter(srv: TestServer, a: Answer): Promise<Buffer> {
  const l = await srv.host.store.get(a.session).logits();
  return Buffer.from(l.buffer, l.byteOffset, l.byteLength);
}

function variant(activations: 'bf16' | 'f32', skip: string | false) {
  describe.skipIf(skip !== false)(`a turn's tokens with ${activations} activations`, () => {
    let srv: TestServer | undefined;
    const config = { activations, contextTokens: 1024, defaultMaxTokens: MAX_TOKENS } as const;
    beforeAll(async () => {
      srv = await startTestServer(config, { dtype: 'bf16', keepData: true });
      expect(srv.host.engine.activationMode).toBe(activations);
    });
    afterAll(async () => srv?.close());

    it('cold, streamed, resumed on its prefix and resumed after a restart give the same tokens and K/V', async () => {
      const cold: Answer[] = [];
      const coldLogits: Buffer[] = [];
      const same = async (x: Answer, i: number, how: string) => expect((await logitsAfter(srv!, x)).equals(coldLogits[i]!), `prompt ${i}: ${how}: logits after the turn`).toBe(true);
      for (const [i, p] of PROMPTS.entries()) {
        const a = await ask(srv!, p, `a${i}`, false);
        coldLogits.push(await logitsAfter(srv!, a));
        const b = await ask(srv!, p, `b${i}`, true);
        expect(a.cached, 'a new session reuses nothing').toBe(0);
        expect(b.cached).toBe(0);
        expect(a.completion).toBeGreaterThan(0);
        expect({ prompt: i, streamed: b.text }).toEqual({ prompt: i, streamed: a.text });
        await same(b, i, 'streamed');
        // resumed: the named session holds this prompt and the last answer; the answer is cut, the whole
        // prompt (its generation prompt included) is reused
        const c = await ask(srv!, p, `a${i}`, false);
        const d = await ask(srv!, p, `b${i}`, true);
        expect(c.cached).toBe(c.prompt);
        expect(d.cached).toBe(d.prompt);
        expect({ prompt: i, resumed: c.text, resumedStreamed: d.text }).toEqual({ prompt: i, resumed: a.text, resumedStreamed: a.text });
        await same(c, i, 'resumed');
        await same(d, i, 'resumed, streamed');
        cold.push(a);
      }
      const dataDir = srv!.dataDir;
      await srv!.close();
      srv = await startTestServer({ ...config, dataDir }, { dtype: 'bf16' });
      for (const [i, p] of PROMPTS.entries()) {
        const e = await ask(srv, p, `a${i}`, i % 2 === 1);
        expect(e.cached).toBe(e.prompt);
        expect({ prompt: i, afterRestart: e.text }).toEqual({ prompt: i, afterRestart: cold[i]!.text });
        await same(e, i, 'after a restart');
      }
    });
  });
}

const noBf16 = bf16DotAvailable() ? false : 'this CPU has no AVX512_BF16 (the bf16 × bf16 kernels do not run here)';
if (noBf16) console.warn(`turn-first-token: bf16 variant skipped: ${noBf16}`);
variant('bf16', noBf16);
variant('f32', false);
