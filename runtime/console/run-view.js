// An agent run as its events arrive: one card per step (turn → tool calls → results), then the end.
import { html } from 'htm/preact';
import { clock, int } from './format.js';

/** Folds events (in seq order) into {start, steps: Map(step → {...}), end}. */
export function foldEvents(events) {
  const out = { start: null, steps: new Map(), end: null };
  const step = (n) => {
    if (!out.steps.has(n)) out.steps.set(n, { n, turn: null, content: '', reasoning: '', calls: [], results: [], errors: [], turnEnd: null, time: null });
    return out.steps.get(n);
  };
  for (const e of events) {
    if (e.type === 'run_start') out.start = e;
    else if (e.type === 'run_end') out.end = e;
    else if (typeof e.step === 'number') {
      const s = step(e.step);
      s.time ??= e.time;
      if (e.type === 'turn_start') s.turn = e;
      else if (e.type === 'content') s.content += e.text;
      else if (e.type === 'reasoning') s.reasoning += e.text;
      else if (e.type === 'tool_call') s.calls.push(e);
      else if (e.type === 'tool_result') s.results.push(e);
      else if (e.type === 'tool_call_error') s.errors.push(e);
      else if (e.type === 'turn_end') s.turnEnd = e;
    }
  }
  return out;
}

function Step({ s }) {
  return html`<div class="card step" data-step=${s.n}>
    <div class="bar small"><b>step ${s.n}</b><span class="muted">${s.time ? clock(s.time) : ''}</span>
      ${s.turn ? html`<span class="muted">prompt ${int(s.turn.promptTokens)} · prefilled ${int(s.turn.prefilled)} · reused ${int(s.turn.reused)}</span>` : null}
      ${s.turnEnd ? html`<span class="muted">→ ${s.turnEnd.finish}, ${int(s.turnEnd.completionTokens)} tokens</span>` : html`<span class="live">generating…</span>`}
    </div>
    ${s.reasoning ? html`<details class="thinking"><summary>thinking</summary><pre>${s.reasoning}</pre></details>` : null}
    ${s.content ? html`<pre class="content">${s.content}</pre>` : null}
    ${s.calls.map((c) => {
      const r = s.results.find((x) => x.id === c.id);
      return html`<div class="ev-call">
        <details class="toolcall ev-tool_call" open><summary><span class="badge tool">tool call</span> <code>${c.name}</code></summary><pre>${c.arguments}</pre></details>
        ${r ? html`<details class="toolresult ev-tool_result" data-ok=${String(r.ok && !r.isError)}>
            <summary><span class=${`badge ${r.ok && !r.isError ? 'ok' : 'err'}`}>${r.ok && !r.isError ? 'result' : 'error'}</span> ${int(r.durationMs)} ms${r.truncated ? ' · truncated' : ''}</summary>
            <pre>${r.error ?? r.preview}</pre></details>`
          : s.turnEnd ? html`<p class="live small ev-waiting">running the tool…</p>` : html`<p class="muted small ev-pending">runs when the turn ends</p>`}
      </div>`;
    })}
    ${s.errors.map((e) => html`<p class="error small">call ${e.index}: ${e.message}</p>`)}
  </div>`;
}

const clip = (t) => (t.length > 240 ? `${t.slice(0, 240)}…` : t);

/** `events`: the run's events so far; `live`: still streaming. */
export function RunView({ events, live }) {
  const f = foldEvents(events);
  const res = f.end?.result;
  return html`<div class="run" id="run-view">
    ${f.start ? html`<p class="small">goal: <b>${f.start.goal}</b> · session <a href=${`#/session/${encodeURIComponent(f.start.sessionId)}`}>${f.start.sessionId}</a> · tools ${f.start.tools.join(', ') || '—'}</p>` : null}
    ${[...f.steps.values()].map((s) => html`<${Step} s=${s} />`)}
    <p id="run-status" class=${res ? 'ok' : 'live'} data-status=${res ? res.status : 'running'}>
      ${res ? `ended: ${res.status} after ${res.steps} steps${res.answer ? ` — ${clip(res.answer)}` : ''}${res.error ? ` — ${res.error}` : ''}` : live ? 'running…' : 'not streaming'}
    </p>
  </div>`;
}
