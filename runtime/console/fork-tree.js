// The fork tree of a session: its root ancestor and every descendant, each with where it forked off.
import { html } from 'htm/preact';
import { int, shortId } from './format.js';

function Node({ n, current }) {
  const here = n.id === current;
  return html`<li>
    <span class=${`node ${here ? 'here' : ''}`} data-node=${n.id}>
      ${here ? html`<b>${n.name ?? shortId(n.id)}</b>` : html`<a href=${`#/session/${encodeURIComponent(n.id)}`}>${n.name ?? shortId(n.id)}</a>`}
      <span class="muted small">${n.at_message === null ? ' root' : ` forked before message ${n.at_message} (token ${int(n.at_token)})`} · ${int(n.token_count)} tokens</span>
    </span>
    ${n.children.length ? html`<ul>${n.children.map((c) => html`<${Node} n=${c} current=${current} />`)}</ul>` : null}
  </li>`;
}

export function ForkTree({ tree, current }) {
  if (!tree) return null;
  return html`<ul class="tree" id="fork-tree"><${Node} n=${tree} current=${current} /></ul>`;
}
