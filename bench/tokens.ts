// Tokens benchmark: encode throughput on 1 MB of mixed text, and the cost of computing the append
// tokens for one tool result on a 1k- vs a 100k-token session (must not grow with the session).
// Run: npx tsx bench/tokens.ts   (prints figures, then one JSON line)
import { type Tokenizer } from '../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../engine/tokens/load-tokenizer.js';
import { StreamingDetokenizer } from '../engine/tokens/detokenizer.js';
import { ChatTemplate } from '../engine/tokens/chat-template.js';
import { AppendProtocol, type Tail } from '../engine/tokens/append-protocol.js';
import type { ChatMessage, ToolDefinition } from '../engine/tokens/messages.js';
import { qwen3TokenizerDir, sharedAbsentReason } from '../test/support/shared.js';

const TOOLS: ToolDefinition[] = [
  { type: 'function', function: { name: 'read_file', description: 'Read a file.', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } } },
  { type: 'function', function: { name: 'run', description: 'Run a shell command.', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } } },
];

/** ~1 MB of deterministic mixed text: prose, code, JSON, CJK, emoji, numbers. */
function mixedText(bytes: number): string {
  const pieces = [
    (i: number) => `The quick brown fox #${i} jumps over the lazy dog; it's ${i % 97} o'clock and we've "quoted" things.\n`,
    (i: number) => `function f${i}(a, b) {\n  if (a > ${i}) return a * b - ${i % 13};\n  return [a, b].map((x) => x ** 2);\n}\n`,
    (i: number) => `{"id": ${i}, "name": "item-${i}", "tags": ["a", "b"], "price": ${(i * 1.37).toFixed(2)}, "ok": true}\n`,
    (i: number) => `第${i}章：我想在apple工作，今天天气很好。日本語のテキスト${i}。한국어 ${i}.\n`,
    (i: number) => `emoji ${i}: 🚀👍🏽 👨‍👩‍👧 ✅ — naïve café résumé ${i}\t\ttabs\n`,
  ];
  let out = '';
  for (let i = 0; Buffer.byteLength(out) < bytes; i++) out += pieces[i % pieces.length]!(i);
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Builds an agent session of at least `target` tokens through the protocol; returns its tail and size. */
function buildSession(tok: Tokenizer, p: AppendProtocol, target: number): { tail: Tail; tokens: number; turns: number; messages: ChatMessage[] } {
  const imEnd = tok.tokenToId('<|im_end|>')!;
  let tail: Tail = 'empty';
  let tokens = 0;
  let turns = 0;
  const messages: ChatMessage[] = [];
  const add = (ids: number[]) => (tokens += ids.length);
  for (let k = 0; tokens < target; k++, turns++) {
    const fresh: ChatMessage[] = k === 0 ? [{ role: 'system', content: 'You are a coding agent.' }, { role: 'user', content: 'Fix the failing tests.' }] : [{ role: 'tool', content: `output of step ${k}:\n` + 'ok line\n'.repeat(40) }];
    const r = p.append(tail, fresh, { tools: TOOLS, addGenerationPrompt: true });
    add(r.tokens);
    messages.push(...fresh);
    const text = `<think>\nStep ${k}: inspect the next file.\n</think>\n\nChecking.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "src/f${k}.ts"}}\n</tool_call>`;
    const gen = [...tok.encode(text), imEnd];
    add(gen);
    const close = p.closeAssistantTurn(gen);
    add(close.tokens);
    tail = close.tail;
    messages.push({ role: 'assistant', content: text });
  }
  return { tail, tokens, turns, messages };
}

async function main(): Promise<void> {
  const DIR = qwen3TokenizerDir(); // Qwen3's own: the figures are about its vocabulary
  if (!DIR) {
    console.log(`skipped: Qwen3's tokenizer is needed and ${sharedAbsentReason()}`);
    return;
  }
  let t = performance.now();
  const tok = await loadTokenizer(DIR);
  const tpl = await ChatTemplate.fromDir(DIR);
  const loadMs = performance.now() - t;
  const p = new AppendProtocol(tok, tpl);

  const text = mixedText(1 << 20);
  tok.encode(text.slice(0, 50_000)); // warm-up (JIT)
  t = performance.now();
  const ids = tok.encode(text);
  const encodeS = (performance.now() - t) / 1000;
  t = performance.now();
  const decoded = tok.decode(ids);
  const decodeS = (performance.now() - t) / 1000;
  if (decoded !== text.normalize('NFC')) throw new Error('round trip failed on the benchmark text');
  const streamIds = ids.slice(0, 20_000);
  const detok = new StreamingDetokenizer(tok);
  t = performance.now();
  for (const id of streamIds) detok.push(id);
  detok.flush();
  const streamUs = ((performance.now() - t) * 1000) / streamIds.length;

  const result: Record<string, number> = {
    load_ms: +loadMs.toFixed(1),
    text_bytes: Buffer.byteLength(text),
    text_tokens: ids.length,
    encode_tokens_per_s: Math.round(ids.length / encodeS),
    encode_mb_per_s: +(Buffer.byteLength(text) / 1e6 / encodeS).toFixed(2),
    decode_tokens_per_s: Math.round(ids.length / decodeS),
    stream_detok_us_per_token: +streamUs.toFixed(2),
  };

  const toolResult: ChatMessage[] = [{ role: 'tool', content: 'exit code 0\nall 12 tests passed' }];
  for (const target of [1_000, 100_000]) {
    const s = buildSession(tok, p, target);
    const times: number[] = [];
    let appended = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      appended = p.append(s.tail, toolResult, { tools: TOOLS, addGenerationPrompt: true }).tokens.length;
      times.push(performance.now() - t0);
    }
    const label = target === 1_000 ? '1k' : '100k';
    result[`append_tool_result_${label}_session_tokens`] = s.tokens;
    result[`append_tool_result_${label}_ms_p50`] = +median(times).toFixed(3);
    result[`append_tool_result_${label}_tokens`] = appended;
    if (target === 100_000) {
      // What we avoid: re-rendering and re-encoding the whole conversation for each turn.
      t = performance.now();
      const full = tpl.render([...s.messages, ...toolResult], { tools: TOOLS, addGenerationPrompt: true });
      const fullIds = tok.encode(full, { allowSpecial: true });
      result.full_rerender_100k_ms = +(performance.now() - t).toFixed(1);
      result.full_rerender_100k_tokens = fullIds.length;
    }
  }
  result.append_growth_100k_over_1k = +(result.append_tool_result_100k_ms_p50! / result.append_tool_result_1k_ms_p50!).toFixed(2);

  console.log(`tokenizer load: ${result.load_ms} ms`);
  console.log(`encode 1 MB mixed text: ${result.text_tokens} tokens, ${result.encode_tokens_per_s} tokens/s (${result.encode_mb_per_s} MB/s); decode ${result.decode_tokens_per_s} tokens/s; streaming detokenizer ${result.stream_detok_us_per_token} µs/token`);
  console.log(`append one tool result: ${result.append_tool_result_1k_ms_p50} ms on a ${result.append_tool_result_1k_session_tokens}-token session, ${result.append_tool_result_100k_ms_p50} ms on a ${result.append_tool_result_100k_session_tokens}-token session (${result.append_tool_result_100k_tokens} tokens appended; ratio ${result.append_growth_100k_over_1k})`);
  console.log(`full re-render + encode of the 100k session instead: ${result.full_rerender_100k_ms} ms`);
  console.log(JSON.stringify({ bench: 'tokens', ...result }));
}

await main();
