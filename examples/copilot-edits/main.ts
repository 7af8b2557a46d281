/**
 * A copilot backend on a resident session: the repository's files live in the session (one message
 * per file, in order), edits replace one file's message in place — only that file and the ones
 * after it are recomputed, the K/V before it is reused — and completions are asked on top, then
 * rolled back so the next edit starts from the files again. Prints tokens prefilled vs reused.
 *
 * Run: npx tsx examples/copilot-edits/main.ts --url http://127.0.0.1:8080 [--api-key KEY]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Api, exampleArgs, runMain, say } from '../lib/client.js';

const args = exampleArgs('copilot-edits', { 'max-tokens': { type: 'string', help: 'tokens per completion (default 24)' } });
const REPO_DIR = fileURLToPath(new URL('./sample-repo/', import.meta.url));
const SYSTEM = 'You are a code completion engine. The repository files follow, one per message. Answer with code only.';

interface SessionView {
  id: string;
  token_count: number;
  counters: { prefilled: number; reused: number };
  messages: unknown[];
}
interface Turn {
  choices: { message: { content: string | null } }[];
  usage: { prefilled_tokens: number; reused_tokens: number; prompt_tokens: number; completion_tokens: number };
}

const fileMessage = (path: string, text: string) => ({ role: 'user', content: `File: ${path}\n\`\`\`ts\n${text}\`\`\`` });

runMain(async () => {
  const api = new Api(args.url, args.apiKey);
  const maxTokens = Number(args.values['max-tokens'] ?? 24);
  const files = readdirSync(join(REPO_DIR, 'src')).sort().map((f) => ({ path: `src/${f}`, text: readFileSync(join(REPO_DIR, 'src', f), 'utf8') }));
  const session = await api.call<SessionView>('POST', '/v1/sessions', { messages: [{ role: 'system', content: SYSTEM }], chat_template_kwargs: { enable_thinking: false } });
  const id = session.id;
  say(`session ${id}: system prompt, ${session.token_count} tokens`);
  const index = new Map<string, number>(); // file → message index
  for (const f of files) {
    const r = await api.call<{ appended: { tokens: number; prefilled_tokens: number; first_message: number }; session: { token_count: number } }>('POST', `/v1/sessions/${id}/messages`, { messages: [fileMessage(f.path, f.text)] });
    index.set(f.path, r.appended.first_message);
    say(`  + ${f.path.padEnd(16)} ${String(r.appended.tokens).padStart(5)} tokens prefilled (context ${r.session.token_count})`);
  }
  const filesEnd = files.length + 1; // messages: system + one per file

  const complete = async (label: string, prompt: string) => {
    const t0 = performance.now();
    const r = await api.call<Turn>('POST', `/v1/sessions/${id}/generate`, { messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0, chat_template_kwargs: { enable_thinking: false } });
    const ms = performance.now() - t0;
    say(`  completion (${label}): prefilled ${r.usage.prefilled_tokens}, reused ${r.usage.reused_tokens} of ${r.usage.prompt_tokens} prompt tokens; ${r.usage.completion_tokens} generated in ${ms.toFixed(0)} ms`);
    say(`    → ${JSON.stringify((r.choices[0]!.message.content ?? '').slice(0, 80))}`);
    await api.call('POST', `/v1/sessions/${id}/rollback`, { message: filesEnd }); // drop the question and the answer
    return r.usage;
  };

  const edit = async (label: string, path: string, text: string) => {
    const before = await api.call<SessionView>('GET', `/v1/sessions/${id}`);
    const k = index.get(path)!;
    const t0 = performance.now();
    const after = await api.call<SessionView>('POST', `/v1/sessions/${id}/edit`, { message: k, replacement: fileMessage(path, text) });
    const ms = performance.now() - t0;
    const prefilled = after.counters.prefilled - before.counters.prefilled;
    const reused = after.token_count - prefilled;
    say(`edit: ${label} (${path}, message ${k}): prefilled ${prefilled} tokens, reused ${reused} of ${after.token_count} (${((100 * reused) / after.token_count).toFixed(0)}%) in ${ms.toFixed(0)} ms`);
    return { prefilled, reused };
  };

  say('\ncompletion on the initial files:');
  await complete('initial', 'Write a function `stddev(xs)` for src/math.ts using variance.');

  const last = files.at(-1)!;
  say('');
  const e1 = await edit('replace the content of the last file', last.path, last.text.replace('.join(\'\\n\')', ".join('\\n') + '\\n'"));
  await complete('after edit 1', `Add a function \`summary(ms)\` to ${last.path}.`);

  const first = files[0]!;
  const lines = first.text.split('\n');
  lines.splice(4, 0, '/** Rounds to `digits` decimals. */', 'export function round(x: number, digits = 0): number {', '  const f = 10 ** digits;', '  return Math.round(x * f) / f;', '}', '');
  const e2 = await edit('insert 6 lines into the first file', first.path, lines.join('\n'));
  await complete('after edit 2', 'Use `round` in src/report.ts.');

  const final = await api.call<SessionView>('GET', `/v1/sessions/${id}`);
  say(`\nsummary: edit 1 recomputed ${e1.prefilled} tokens (the last file only), edit 2 recomputed ${e2.prefilled} (the first file and every file after it); the session holds ${final.token_count} tokens in ${final.messages.length} messages.`);
  await api.call('DELETE', `/v1/sessions/${id}`);
});
