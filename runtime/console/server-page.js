// Server: model, kernels, threads, memory (weights, KV resident and spare, budget), slots, queue,
// and plots of throughput and latency over the last minutes (samples of the /metrics counters).
import { html } from 'htm/preact';
import { bytes, fixed, int } from './format.js';
import { Plot } from './plot.js';
import { usePoll } from './poll.js';

function Bar({ parts, total }) {
  return html`<div class="membar">${parts.map(([cls, v, label]) => html`<span class=${cls} title=${`${label}: ${bytes(v)}`} style=${{ width: `${Math.min(100, (v / Math.max(1, total)) * 100).toFixed(1)}%` }}></span>`)}</div>`;
}

export function ServerPage() {
  const { data: s, error } = usePoll('/v1/console/server', 2000);
  if (!s) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading…'}</p>`;
  const m = s.memory;
  const windowMs = Math.max(60_000, s.history.length * s.interval_ms);
  const series = (k) => s.history.map((h) => ({ at: h.at, v: h[k] }));
  const row = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  return html`<section class="server">
    <h1>Server</h1>
    <div class="cards">
      <div class="card"><h3>Model</h3><dl class="figures one">
        ${row('model', s.model.id)}${row('architecture', `${s.model.architecture}, ${s.model.layers} layers`)}
        ${row('weights', s.model.weight_mode === 'native' ? s.model.weights : `${s.model.weights} → ${s.model.weight_mode}`)}
        ${row('activations', s.model.activations)}${row('context', `${int(s.model.context_tokens)} tokens`)}
      </dl></div>
      <div class="card"><h3>Engine</h3><dl class="figures one">
        ${row('kernels', s.engine.kernels)}${row('threads', s.engine.threads)}${row('batch tokens', int(s.engine.max_batch_tokens))}
        ${row('steps', int(s.engine.steps))}${row('uptime', `${int(s.uptime_s)} s`)}
      </dl></div>
      <div class="card" id="memory"><h3>Memory</h3><dl class="figures one">
        ${row('weights', bytes(m.weights_bytes))}${row('KV resident', bytes(m.kv_resident_bytes))}${row('KV spare', bytes(m.kv_spare_bytes))}
        ${row('KV budget', bytes(m.kv_budget_bytes))}${row('checkpoints', bytes(m.checkpoint_bytes))}${row('KV per token', bytes(m.bytes_per_token))}
        ${row('process RSS', bytes(m.process_rss_bytes))}
      </dl>
      <${Bar} total=${m.kv_budget_bytes} parts=${[['kv', m.kv_resident_bytes, 'KV resident'], ['spare', m.kv_spare_bytes, 'KV spare']]} />
      <p class="small muted">KV resident + spare of the budget</p></div>
      <div class="card"><h3>Load</h3><dl class="figures one">
        ${row('slots in use', `${s.slots.in_use} of ${s.slots.max}`)}${row('spare slots', s.slots.spare)}${row('slots created', s.slots.created)}
        ${row('queue depth', s.queue_depth)}${row('requests in flight', s.in_flight)}${row('sessions', `${s.sessions.total}${s.sessions.damaged ? `, ${s.sessions.damaged} damaged` : ''}`)}
      </dl></div>
    </div>
    <h2>Last ${Math.round(windowMs / 60000)} min <span class="small muted">(a sample every ${s.interval_ms / 1000} s)</span></h2>
    <div class="plots">
      <${Plot} id="plot-decode" title="generated tokens/s" points=${series('generatedPerS')} fmt=${(v) => fixed(v)} windowMs=${windowMs} />
      <${Plot} id="plot-prefill" title="prefilled tokens/s" points=${series('prefilledPerS')} fmt=${(v) => fixed(v)} windowMs=${windowMs} />
      <${Plot} id="plot-step" title="mean step latency (ms)" points=${series('stepMs')} fmt=${(v) => fixed(v, 2)} windowMs=${windowMs} />
      <${Plot} id="plot-queue" title="queue depth" points=${series('queueDepth')} fmt=${(v) => fixed(v, 0)} windowMs=${windowMs} />
      <${Plot} id="plot-kv" title="KV resident" points=${series('kvBytes')} fmt=${bytes} windowMs=${windowMs} />
    </div>
  </section>`;
}
