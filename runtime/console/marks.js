// The token line of a session: message groups, recurrent-state checkpoints, the part covered by
// snapshots on disk, the resident slot, and where children forked off — one SVG bar.
import { html } from 'htm/preact';
import { int } from './format.js';

export function Marks({ d }) {
  const n = Math.max(1, d.token_count);
  const W = 1000;
  const x = (t) => (Math.min(t, n) / n) * W;
  const groups = d.transcript?.groups ?? [];
  const forks = (d.tree ? flatten(d.tree) : []).filter((c) => c.parentId === d.id);
  return html`<div class="marks">
    <svg viewBox=${`0 0 ${W} 34`} preserveAspectRatio="none" class="tokenbar" id="token-bar">
      <rect x="0" y="8" width=${W} height="14" class="bar-bg" />
      <rect x="0" y="8" width=${x(d.snapshot_covered)} height="14" class="bar-snap"><title>on disk (snapshot): ${int(d.snapshot_covered)} tokens</title></rect>
      <rect x="0" y="22" width=${x(d.slot_length)} height="4" class="bar-slot"><title>in the KV slot: ${int(d.slot_length)} tokens</title></rect>
      ${groups.map((g) => html`<line x1=${x(g.from)} x2=${x(g.from)} y1="8" y2="22" class="bar-msg"><title>message ${g.first_message} at token ${g.from}</title></line>`)}
      ${d.checkpoints.positions.map((p) => html`<circle cx=${x(p)} cy="4" r="3" class="bar-ckpt"><title>checkpoint at token ${p}</title></circle>`)}
      ${forks.map((c) => html`<path d=${`M${x(c.at_token) - 4} 34 L${x(c.at_token)} 27 L${x(c.at_token) + 4} 34 Z`} class="bar-fork"><title>fork ${c.name ?? c.id} at token ${c.at_token}</title></path>`)}
    </svg>
    <div class="legend small muted">
      <span><i class="sw snap"></i>snapshot on disk ${int(d.snapshot_covered)}</span>
      <span><i class="sw slot"></i>in the KV slot ${int(d.slot_length)}</span>
      <span><i class="sw start"></i>message starts</span>
      <span><i class="sw ckpt"></i>checkpoints ${d.checkpoints.positions.length}</span>
      <span><i class="sw fork"></i>forks ${forks.length}</span>
      <span>of ${int(d.token_count)} tokens</span>
    </div>
  </div>`;
}

function flatten(node, parentId = null, out = []) {
  out.push({ ...node, parentId });
  for (const c of node.children) flatten(c, node.id, out);
  return out;
}
