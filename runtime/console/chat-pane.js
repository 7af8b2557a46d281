// A chat pane on one session, through the same public API clients use
// (POST /v1/sessions/:id/generate, streamed): the reply as it streams, time to first token, rate.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { postStream } from './api.js';
import { fixed, int } from './format.js';

export function ChatPane({ id, onDone }) {
  const [text, setText] = useState('');
  const [maxTokens, setMaxTokens] = useState(64);
  const [turn, setTurn] = useState(null);
  const [error, setError] = useState(null);
  const busy = turn?.running;
  const send = async (e) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    const t0 = performance.now();
    let cur = { running: true, user: text, reply: '', thinking: '', calls: [], ttftMs: null, usage: null, totalMs: null };
    setTurn(cur);
    const messages = text.trim() ? [{ role: 'user', content: text }] : [];
    try {
      const body = { messages, stream: true, stream_options: { include_usage: true }, max_tokens: Number(maxTokens) };
      for await (const f of postStream(`/v1/sessions/${encodeURIComponent(id)}/generate`, body)) {
        if (typeof f.data !== 'object' || f.data === null) continue;
        if (f.data.error) throw new Error(f.data.error.message);
        const d = f.data.choices?.[0]?.delta ?? {};
        const got = d.content || d.reasoning_content || d.tool_calls;
        cur = {
          ...cur,
          ttftMs: cur.ttftMs ?? (got ? performance.now() - t0 : null),
          reply: cur.reply + (d.content ?? ''),
          thinking: cur.thinking + (d.reasoning_content ?? ''),
          calls: d.tool_calls ? [...cur.calls, ...d.tool_calls.filter((c) => c.function?.name).map((c) => c.function.name)] : cur.calls,
          usage: f.data.usage ?? cur.usage,
        };
        setTurn(cur);
      }
      setText('');
    } catch (err) {
      setError(err.message);
    } finally {
      setTurn({ ...cur, running: false, totalMs: performance.now() - t0 });
      onDone?.();
    }
  };
  const rate = turn?.usage && turn.totalMs && turn.ttftMs !== null && turn.usage.completion_tokens > 1
    ? ((turn.usage.completion_tokens - 1) * 1000) / (turn.totalMs - turn.ttftMs) : null;
  return html`<div class="card chat" id="chat-pane">
    <h3>Chat with this session</h3>
    <form onSubmit=${send}>
      <textarea id="chat-input" rows="3" placeholder="a user message (empty: the assistant continues)" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <div class="bar">
        <label class="small">max tokens <input type="number" min="1" max="4096" value=${maxTokens} onInput=${(e) => setMaxTokens(e.target.value)} /></label>
        <span class="grow"></span>
        <button id="chat-send" type="submit" disabled=${busy}>${busy ? 'generating…' : 'Send'}</button>
      </div>
    </form>
    ${error ? html`<p class="error">${error}</p>` : null}
    ${turn ? html`<div class="reply">
      ${turn.thinking ? html`<details><summary class="small">thinking</summary><pre>${turn.thinking}</pre></details>` : null}
      <pre id="chat-reply">${turn.reply}</pre>
      ${turn.calls.length ? html`<p class="small">tool calls: ${turn.calls.join(', ')}</p>` : null}
      <p class="small muted" id="chat-figures">
        time to first token ${turn.ttftMs === null ? '—' : `${int(turn.ttftMs)} ms`}
        ${turn.usage ? ` · ${int(turn.usage.completion_tokens)} tokens · ${fixed(rate)} tokens/s · prompt ${int(turn.usage.prompt_tokens)}` : ''}
      </p>
    </div>` : null}
  </div>`;
}
