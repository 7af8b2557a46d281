/**
 * RAG by injection: the documents are appended once to a base session (its K/V stays resident), and
 * every question runs on a fork of it — the fork copies the K/V instead of recomputing it, so a
 * question costs only its own tokens. Prints the base prefill, each fork's cost, and what each
 * answer prefilled vs reused.
 *
 * Run: npx tsx examples/rag-inject/main.ts --url http://127.0.0.1:8080 [--api-key KEY]
 */
import { Api, exampleArgs, runMain, say } from '../lib/client.js';
import { DOCUMENTS, QUESTIONS } from './documents.js';

const args = exampleArgs('rag-inject', { 'max-tokens': { type: 'string', help: 'tokens per answer (default 32)' } });

interface SessionView { id: string; token_count: number; messages: unknown[]; parent: { id: string; at: number } | null }
interface Turn { choices: { message: { content: string | null } }[]; usage: { prefilled_tokens: number; reused_tokens: number; prompt_tokens: number; completion_tokens: number } }

runMain(async () => {
  const api = new Api(args.url, args.apiKey);
  const maxTokens = Number(args.values['max-tokens'] ?? 32);
  const system = 'Answer the question from the documents below, in one sentence. Say "not in the documents" when they do not tell.';
  const docs = DOCUMENTS.map((d) => ({ role: 'user', content: `<document id="${d.id}" title="${d.title}">\n${d.text}\n</document>` }));

  let t0 = performance.now();
  const base = await api.call<SessionView>('POST', '/v1/sessions', { messages: [{ role: 'system', content: system }, ...docs], chat_template_kwargs: { enable_thinking: false } });
  const baseMs = performance.now() - t0;
  say(`base session ${base.id}: ${DOCUMENTS.length} documents, ${base.token_count} tokens prefilled once in ${baseMs.toFixed(0)} ms`);

  let forkMsTotal = 0;
  let prefilledTotal = 0;
  for (const q of QUESTIONS) {
    t0 = performance.now();
    const fork = await api.call<SessionView>('POST', `/v1/sessions/${base.id}/fork`, {});
    const forkMs = performance.now() - t0;
    forkMsTotal += forkMs;
    if (fork.parent?.id !== base.id || fork.token_count !== base.token_count) throw new Error(`fork ${fork.id} does not share the base (${JSON.stringify(fork.parent)}, ${fork.token_count} tokens)`);
    t0 = performance.now();
    const r = await api.call<Turn>('POST', `/v1/sessions/${fork.id}/generate`, { messages: [{ role: 'user', content: q }], max_tokens: maxTokens, temperature: 0 });
    const genMs = performance.now() - t0;
    prefilledTotal += r.usage.prefilled_tokens;
    say(`\nQ: ${q}`);
    say(`  fork ${fork.id}: ${fork.token_count} tokens shared, forked in ${forkMs.toFixed(1)} ms (K/V copied, nothing recomputed)`);
    say(`  answer: prefilled ${r.usage.prefilled_tokens} tokens (the question), reused ${r.usage.reused_tokens}; ${r.usage.completion_tokens} generated in ${genMs.toFixed(0)} ms`);
    say(`  A: ${JSON.stringify((r.choices[0]!.message.content ?? '').slice(0, 120))}`);
    await api.call('DELETE', `/v1/sessions/${fork.id}`);
  }
  const naive = QUESTIONS.length * base.token_count + prefilledTotal;
  say(`\nfork cost: ${(forkMsTotal / QUESTIONS.length).toFixed(1)} ms per fork on average; the ${QUESTIONS.length} answers prefilled ${prefilledTotal} tokens in all, against ${naive} for fresh sessions (${(naive / Math.max(1, prefilledTotal)).toFixed(1)}× more).`);
  const after = await api.call<SessionView>('GET', `/v1/sessions/${base.id}`);
  if (after.token_count !== base.token_count) throw new Error('the base session changed');
  say(`base session unchanged: ${after.token_count} tokens, ${after.messages.length} messages`);
  await api.call('DELETE', `/v1/sessions/${base.id}`);
});
