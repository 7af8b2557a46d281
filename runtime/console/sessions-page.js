// The sessions list: name, origin, tokens, residency, KV bytes, last use; filter and sort.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { usePoll } from './poll.js';
import { ago, bytes, int, shortId } from './format.js';

const COLUMNS = [
  ['name', 'Session'], ['kind', 'Origin'], ['token_count', 'Tokens'], ['messages', 'Messages'],
  ['state', 'Residency'], ['kv_bytes', 'KV bytes'], ['last_used_at', 'Last use'],
];

const label = (s) => s.name ?? shortId(s.id);

export function SessionsPage() {
  const { data, error } = usePoll('/v1/console/sessions', 3000);
  const [text, setText] = useState('');
  const [kind, setKind] = useState('');
  const [state, setState] = useState('');
  const [sort, setSort] = useState({ by: 'last_used_at', desc: true });
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading sessions…'}</p>`;
  const q = text.trim().toLowerCase();
  const rows = data.data
    .filter((s) => !q || [s.id, s.name ?? '', s.origin ?? ''].some((x) => x.toLowerCase().includes(q)))
    .filter((s) => !kind || s.kind === kind)
    .filter((s) => !state || s.state === state)
    .sort((a, b) => {
      const x = sort.by === 'name' ? label(a) : a[sort.by];
      const y = sort.by === 'name' ? label(b) : b[sort.by];
      const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return sort.desc ? -c : c;
    });
  const head = ([k, t]) => html`<th class="sortable" data-col=${k} onClick=${() => setSort({ by: k, desc: sort.by === k ? !sort.desc : k !== 'name' })}>
    ${t}${sort.by === k ? (sort.desc ? ' ▾' : ' ▴') : ''}</th>`;
  const totals = data.data.reduce((a, s) => ({ tokens: a.tokens + s.token_count, kv: a.kv + s.kv_bytes, resident: a.resident + (s.state === 'resident') }), { tokens: 0, kv: 0, resident: 0 });
  return html`<section>
    <div class="bar">
      <h1>Sessions</h1>
      <span class="muted">${data.data.length} sessions · ${totals.resident} resident · ${int(totals.tokens)} tokens · ${bytes(totals.kv)} KV</span>
    </div>
    <div class="bar filters">
      <input id="filter" placeholder="filter by name, id or origin" value=${text} onInput=${(e) => setText(e.target.value)} />
      <select id="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="">every origin</option>
        ${['chat', 'responses', 'agent', 'mcp', 'api'].map((k) => html`<option value=${k}>${k}</option>`)}
      </select>
      <select id="state" value=${state} onChange=${(e) => setState(e.target.value)}>
        <option value="">any residency</option>
        ${['resident', 'spilled', 'damaged'].map((k) => html`<option value=${k}>${k}</option>`)}
      </select>
    </div>
    <table class="list" id="sessions">
      <thead><tr>${COLUMNS.map(head)}</tr></thead>
      <tbody>
        ${rows.map((s) => html`<tr data-id=${s.id} class=${s.state}>
          <td><a href=${`#/session/${encodeURIComponent(s.id)}`}>${label(s)}</a>${s.parent ? html` <span class="tag">fork</span>` : null}${s.pinned ? html` <span class="tag">pinned</span>` : null}
            ${s.error ? html`<div class="error small">${s.error}</div>` : null}</td>
          <td><span class=${`kind k-${s.kind}`}>${s.kind}</span></td>
          <td class="num">${int(s.token_count)}</td>
          <td class="num">${int(s.messages)}</td>
          <td><span class=${`state s-${s.state}`}>${s.state}</span></td>
          <td class="num">${bytes(s.kv_bytes)}</td>
          <td>${ago(s.last_used_at)}</td>
        </tr>`)}
      </tbody>
    </table>
    ${rows.length === 0 ? html`<p class="muted">No session matches.</p>` : null}
  </section>`;
}
