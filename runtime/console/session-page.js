// One session: figures, actions (fork, roll back, delete, snapshot — each confirmed), the fork tree,
// the token line with its marks, the transcript, and a chat pane.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { del, post } from './api.js';
import { ChatPane } from './chat-pane.js';
import { Confirm } from './confirm.js';
import { ForkTree } from './fork-tree.js';
import { ago, bytes, int, shortId } from './format.js';
import { Marks } from './marks.js';
import { usePoll } from './poll.js';
import { Transcript } from './transcript.js';

const go = (id) => (location.hash = `#/session/${encodeURIComponent(id)}`);

export function SessionPage({ id }) {
  const path = `/v1/console/sessions/${encodeURIComponent(id)}`;
  const { data: d, error, reload } = usePoll(path, 5000);
  const [ask, setAsk] = useState(null);
  const [note, setNote] = useState(null);
  if (!d) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading the session…'}</p>`;
  const api = `/v1/sessions/${encodeURIComponent(d.id)}`;
  const title = d.name ?? shortId(d.id);
  if (d.state === 'damaged') {
    return html`<section><h1>${title} <span class="state s-damaged">damaged</span></h1><p class="error">${d.error}</p>
      <button onClick=${() => setAsk({ title: 'Repair', text: 'Cut the journal before its first bad record? What follows it is dropped.', action: 'Repair', danger: true, run: async () => (await post(`${api}/repair`), reload()) })}>repair…</button>
      <${Confirm} ask=${ask} onClose=${() => setAsk(null)} /></section>`;
  }
  const actions = {
    fork: (k) => setAsk({
      title: `Fork before message ${k}`,
      text: `A new session sharing messages 0–${k - 1} of ${title} (their K/V is copied, not recomputed). This session stays as it is.`,
      action: 'Fork', run: async () => go((await post(`${api}/fork`, { message: k })).id),
    }),
    rollback: (k) => setAsk({
      title: `Roll back to before message ${k}`,
      text: `Drop message ${k} and every message after it from ${title}. This cannot be undone (forks keep their own copy).`,
      action: 'Roll back', danger: true, run: async () => (await post(`${api}/rollback`, { message: k }), reload()),
    }),
  };
  const forkAll = () => setAsk({ title: 'Fork', text: `A new session with the whole history of ${title}.`, action: 'Fork', run: async () => go((await post(`${api}/fork`, {})).id) });
  const snapshot = () => setAsk({
    title: 'Snapshot', text: 'Write the resident K/V not yet on disk now.', action: 'Snapshot',
    run: async () => {
      const r = await post(`${api}/snapshot`);
      setNote(`snapshot: ${int(r.positions_written)} positions written, ${int(r.snapshot_covered)} covered`);
      reload();
    },
  });
  const remove = () => setAsk({
    title: 'Delete', text: `Delete ${title} with its journal and snapshots? Its forks stay.`, action: 'Delete', danger: true,
    run: async () => (await del(api), (location.hash = '#/sessions')),
  });
  return html`<section class="session">
    <div class="bar">
      <h1>${title}</h1>
      <span class=${`kind k-${d.kind}`}>${d.kind}</span> <span class=${`state s-${d.state}`}>${d.state}</span>
      <span class="grow"></span>
      <button id="fork-all" onClick=${forkAll}>fork</button>
      <button id="snapshot" onClick=${snapshot}>snapshot</button>
      <button id="delete" class="danger" onClick=${remove}>delete</button>
    </div>
    ${note ? html`<p class="ok small">${note}</p>` : null}
    <dl class="figures">
      <div><dt>id</dt><dd><code>${d.id}</code></dd></div>
      <div><dt>tokens</dt><dd>${int(d.token_count)}</dd></div>
      <div><dt>messages</dt><dd>${int(d.messages)}</dd></div>
      <div><dt>KV bytes</dt><dd>${bytes(d.kv_bytes)}</dd></div>
      <div><dt>journal</dt><dd>${bytes(d.journal_bytes)}</dd></div>
      <div><dt>origin</dt><dd>${d.origin ?? '—'}</dd></div>
      <div><dt>last use</dt><dd>${ago(d.last_used_at)}</dd></div>
      <div><dt>prefilled / reused / restored</dt><dd>${int(d.counters.prefilled)} / ${int(d.counters.reused)} / ${int(d.counters.restored)}</dd></div>
      <div><dt>generated</dt><dd>${int(d.counters.generated)}</dd></div>
      <div><dt>tools</dt><dd>${d.tools.length ? d.tools.join(', ') : '—'}</dd></div>
      ${d.agent_run ? html`<div><dt>agent run</dt><dd><a href=${`#/live/${d.agent_run}`}>${shortId(d.agent_run)}</a></dd></div>` : null}
    </dl>
    ${d.warnings.length ? html`<p class="error small">${d.warnings.join('; ')}</p>` : null}
    <${Marks} d=${d} />
    <div class="cols">
      <div class="main-col">
        <h2>Transcript</h2>
        <${Transcript} transcript=${d.transcript} actions=${actions} />
      </div>
      <aside class="side-col">
        <h2>Fork tree</h2>
        <${ForkTree} tree=${d.tree} current=${d.id} />
        <${ChatPane} id=${d.id} onDone=${reload} />
      </aside>
    </div>
    <${Confirm} ask=${ask} onClose=${() => setAsk(null)} />
  </section>`;
}
