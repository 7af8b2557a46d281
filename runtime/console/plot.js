// A small SVG line plot of one series over time (null values leave gaps), with its latest value.
import { html } from 'htm/preact';

/** `points`: [{at, v}] oldest first; `fmt` formats a value; `windowMs` spans the x axis ending now. */
export function Plot({ title, points, fmt, windowMs, id }) {
  const W = 300;
  const H = 70;
  const now = points.length ? points[points.length - 1].at : Date.now();
  const vals = points.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(1e-9, ...vals);
  const x = (at) => W - ((now - at) / windowMs) * W;
  const y = (v) => H - 4 - (v / max) * (H - 10);
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.v === null || !Number.isFinite(p.v)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x(p.at).toFixed(1)} ${y(p.v).toFixed(1)}`;
    pen = true;
  }
  const last = [...points].reverse().find((p) => p.v !== null);
  return html`<figure class="plot card" id=${id}>
    <figcaption><span>${title}</span><b>${last ? fmt(last.v) : '—'}</b></figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} preserveAspectRatio="none">
      <line x1="0" x2=${W} y1=${H - 4} y2=${H - 4} class="axis" />
      <path d=${d} class="line" />
    </svg>
    <div class="small muted axis-note"><span>${Math.round(windowMs / 60000)} min ago</span><span>peak ${fmt(vals.length ? max : null)}</span><span>now</span></div>
  </figure>`;
}
