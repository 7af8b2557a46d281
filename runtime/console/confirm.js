// A confirmation dialog for destructive or costly actions: what will happen, Cancel / the action.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

/** `ask` = {title, text, action, run}: run() is awaited on confirm; its error is shown in the dialog. */
export function Confirm({ ask, onClose }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (!ask) return null;
  const yes = async () => {
    setBusy(true);
    try {
      await ask.run();
      onClose();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="modal-back">
    <div class="modal card" role="dialog" aria-modal="true">
      <h3>${ask.title}</h3>
      <p>${ask.text}</p>
      ${error ? html`<p class="error">${error}</p>` : null}
      <div class="bar right">
        <button class="confirm-no" onClick=${onClose} disabled=${busy}>Cancel</button>
        <button class=${`confirm-yes ${ask.danger ? 'danger' : ''}`} onClick=${yes} disabled=${busy}>${busy ? '…' : ask.action}</button>
      </div>
    </div>
  </div>`;
}
