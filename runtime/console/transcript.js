// The transcript as the model sees it: message groups with their token ranges (and the rendered text
// of each group), each message with its role; thinking, tool calls and tool results collapsible.
import { html } from 'htm/preact';
import { int } from './format.js';

const textOf = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => p.text ?? `[${p.type}]`).join('') : c == null ? '' : JSON.stringify(c));

function pretty(args) {
  try {
    return JSON.stringify(typeof args === 'string' ? JSON.parse(args) : args, null, 2);
  } catch {
    return String(args);
  }
}

function ToolCall({ call }) {
  return html`<details class="toolcall" open>
    <summary><span class="badge tool">tool call</span> <code>${call.function?.name}</code> <span class="muted small">${call.id ?? ''}</span></summary>
    <pre>${pretty(call.function?.arguments)}</pre>
  </details>`;
}

function Message({ m, k, actions }) {
  const role = m.role;
  const body = textOf(m.content);
  return html`<div class=${`msg r-${role}`} data-message=${k}>
    <div class="msg-head">
      <span class="idx">#${k}</span> <span class=${`badge role-${role}`}>${role}</span>
      ${m.name ? html` <code>${m.name}</code>` : null}
      <span class="grow"></span>
      ${actions ? html`<button class="small fork-at" title="a new session sharing everything before this message" onClick=${() => actions.fork(k)}>fork before</button>
        <button class="small rollback-at" title="drop this message and everything after it" onClick=${() => actions.rollback(k)}>roll back to here</button>` : null}
    </div>
    ${m.reasoning_content ? html`<details class="thinking"><summary>thinking (${m.reasoning_content.length} chars)</summary><pre>${m.reasoning_content}</pre></details>` : null}
    ${role === 'tool'
      ? html`<details class="toolresult" open><summary><span class="badge tool">tool result</span> <span class="muted small">${m.tool_call_id ?? ''}</span></summary><pre>${body}</pre></details>`
      : body ? html`<div class=${role === 'document' ? 'content doc' : 'content'}>${body}</div>` : null}
    ${(m.tool_calls ?? []).map((c) => html`<${ToolCall} call=${c} />`)}
  </div>`;
}

/** `transcript` from /v1/console/sessions/:id; `actions` = {fork(k), rollback(k)} or null. */
export function Transcript({ transcript, actions }) {
  if (!transcript) return null;
  return html`<div class="transcript" id="transcript">
    ${transcript.groups.map((g) => html`<div class="group" data-from=${g.from}>
      <div class="group-head small muted">
        tokens ${int(g.from)}–${int(g.to)} (${int(g.to - g.from)}) · ${g.kind}${g.finish ? ` · finish ${g.finish}` : ''}
      </div>
      ${g.messages.map((m, i) => html`<${Message} m=${m} k=${g.first_message + i} actions=${actions} />`)}
      ${g.text !== null ? html`<details class="rendered"><summary class="small">as the model sees it</summary><pre>${g.text}</pre></details>` : null}
    </div>`)}
    ${transcript.dangling_tokens ? html`<p class="muted small">${int(transcript.dangling_tokens)} tokens past the last message (an unfinished turn; cut before the next append)</p>` : null}
    ${transcript.groups.length === 0 ? html`<p class="muted">No messages yet.</p>` : null}
  </div>`;
}
