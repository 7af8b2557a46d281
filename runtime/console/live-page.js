// Live: agent runs (start one, or watch one) streaming their steps as they happen, and the recent
// turns of every visible session with their time to first token and decode rate.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, getStream, postStream } from './api.js';
import { ago, clock, fixed, int, shortId } from './format.js';
import { usePoll } from './poll.js';
import { RunView } from './run-view.js';

/** Streams a run's events into state; `open(signal)` returns the SSE frames. */
function useRunStream() {
  const [run, setRun] = useState({ events: [], live: false, error: null });
  const ctl = useRef(null);
  const follow = async (open) => {
    ctl.current?.abort();
    const ac = (ctl.current = new AbortController());
    let events = [];
    setRun({ events, live: true, error: null });
    try {
      for await (const f of open(ac.signal)) {
        if (typeof f.data !== 'object' || f.data === null || typeof f.data.type !== 'string') continue;
        events = [...events, f.data];
        setRun({ events, live: true, error: null });
      }
      setRun({ events, live: false, error: null });
    } catch (e) {
      if (!ac.signal.aborted) setRun({ events, live: false, error: e.message });
    }
  };
  useEffect(() => () => ctl.current?.abort(), []);
  return [run, follow];
}

function StartForm({ onStart }) {
  const [goal, setGoal] = useState('');
  const [sources, setSources] = useState('');
  const [steps, setSteps] = useState(4);
  const [choice, setChoice] = useState('auto');
  const [maxTokens, setMaxTokens] = useState(256);
  const submit = (e) => {
    e.preventDefault();
    if (!goal.trim()) return;
    const body = { goal, max_steps: Number(steps), max_tokens: Number(maxTokens), tool_choice: choice, stream: true };
    const list = sources.split(',').map((s) => s.trim()).filter(Boolean);
    if (list.length) body.tool_sources = list;
    onStart(body);
  };
  return html`<form class="card" id="run-form" onSubmit=${submit}>
    <h3>Start an agent run</h3>
    <textarea id="run-goal" rows="2" placeholder="goal" value=${goal} onInput=${(e) => setGoal(e.target.value)}></textarea>
    <div class="bar small">
      <label>tool sources <input id="run-sources" placeholder="default: all" value=${sources} onInput=${(e) => setSources(e.target.value)} /></label>
      <label>max steps <input id="run-steps" type="number" min="0" max="64" value=${steps} onInput=${(e) => setSteps(e.target.value)} /></label>
      <label>max tokens/turn <input id="run-tokens" type="number" min="1" max="8192" value=${maxTokens} onInput=${(e) => setMaxTokens(e.target.value)} /></label>
      <label>tool choice <select id="run-choice" value=${choice} onChange=${(e) => setChoice(e.target.value)}><option>auto</option><option>required</option></select></label>
      <span class="grow"></span>
      <button id="run-start" type="submit">Start</button>
    </div>
  </form>`;
}

function Turns() {
  const { data } = usePoll('/v1/console/turns', 3000);
  const rows = data?.data ?? [];
  return html`<table class="list" id="turns">
    <thead><tr><th>when</th><th>session</th><th>prompt</th><th>prefilled</th><th>reused</th><th>generated</th><th>TTFT</th><th>tokens/s</th><th>finish</th></tr></thead>
    <tbody>${rows.map((t) => html`<tr>
      <td title=${clock(t.at)}>${ago(t.at)}</td>
      <td><a href=${`#/session/${encodeURIComponent(t.sessionId)}`}>${shortId(t.sessionId)}</a></td>
      <td class="num">${int(t.promptTokens)}</td><td class="num">${int(t.prefilled)}</td><td class="num">${int(t.reused)}</td>
      <td class="num">${int(t.completionTokens)}</td>
      <td class="num">${t.ttftMs === null ? '—' : `${int(t.ttftMs)} ms`}</td>
      <td class="num">${fixed(t.decodeTps)}</td><td>${t.finish}</td>
    </tr>`)}</tbody>
  </table>${rows.length ? null : html`<p class="muted small">No turns yet.</p>`}`;
}

export function LivePage({ runId }) {
  const runs = usePoll('/v1/agent/runs', 3000);
  const [run, follow] = useRunStream();
  const [selected, setSelected] = useState(runId ?? null);
  const [summary, setSummary] = useState(null);
  const watch = async (id) => {
    setSelected(id);
    setSummary(null);
    const s = await get(`/v1/agent/runs/${encodeURIComponent(id)}`).catch((e) => ({ error: e.message }));
    if (s.status === 'running') follow((signal) => getStream(`/v1/agent/runs/${encodeURIComponent(id)}/events`, signal));
    else setSummary(s);
  };
  useEffect(() => void (runId && watch(runId)), [runId]);
  const start = (body) => {
    setSelected(null);
    setSummary(null);
    follow((signal) => postStream('/v1/agent/runs', body, signal)).then(() => runs.reload());
    setTimeout(runs.reload, 500); // the new run joins the list while it streams
  };
  const list = [...(runs.data?.data ?? [])].sort((a, b) => b.started_at - a.started_at);
  return html`<section class="live-page">
    <h1>Live</h1>
    <div class="cols">
      <div class="main-col">
        <${StartForm} onStart=${start} />
        ${run.error ? html`<p class="error">${run.error}</p>` : null}
        ${run.events.length || run.live ? html`<${RunView} events=${run.events} live=${run.live} />` : null}
        ${summary ? html`<div class="card"><p>Run ${shortId(selected)}: <b>${summary.status ?? summary.error}</b>${summary.steps !== undefined ? `, ${summary.steps} steps` : ''}</p>
          ${summary.result?.answer ? html`<pre>${summary.result.answer}</pre>` : null}
          ${summary.session_id ? html`<a href=${`#/session/${encodeURIComponent(summary.session_id)}`}>its session</a>` : null}</div>` : null}
        <h2>Recent turns</h2>
        <${Turns} />
      </div>
      <aside class="side-col">
        <h2>Agent runs</h2>
        <ul class="runs" id="runs">${list.map((r) => html`<li class=${r.run_id === selected ? 'on' : ''}>
          <button class="link" onClick=${() => watch(r.run_id)}>${shortId(r.run_id)}</button>
          <span class=${`state s-${r.status}`}>${r.status}</span> <span class="small muted">${r.steps} steps · ${ago(r.started_at * 1000)}</span>
          <div class="small ellipsis">${r.goal}</div>
        </li>`)}</ul>
        ${list.length ? null : html`<p class="muted small">No runs in this process.</p>`}
      </aside>
    </div>
  </section>`;
}
