// The console's shell: asks for the API key when the server wants one, then routes by hash
// (#/sessions, #/session/<id>, #/live, #/server) between the pages.
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, getKey, onUnauthorized, setKey } from './api.js';
import { SessionsPage } from './sessions-page.js';
import { SessionPage } from './session-page.js';
import { LivePage } from './live-page.js';
import { ServerPage } from './server-page.js';

function useRoute() {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const f = () => setRoute(read());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}

function KeyForm({ refused, onKey }) {
  const [v, setV] = useState('');
  const submit = (e) => {
    e.preventDefault();
    if (v.trim()) onKey(v.trim());
  };
  return html`<form class="card keyform" onSubmit=${submit}>
    <h2>API key</h2>
    <p>${refused ? 'The server refused the key. ' : ''}This server needs its API key. It is kept in this tab's session storage only and sent as a Bearer header.</p>
    <input id="api-key" type="password" autocomplete="off" placeholder="key" value=${v} onInput=${(e) => setV(e.target.value)} />
    <button type="submit">Use key</button>
  </form>`;
}

function Nav({ page, model }) {
  const link = (to, label) => html`<a href="#/${to}" class=${page === to ? 'on' : ''}>${label}</a>`;
  return html`<nav class="top">
    <span class="brand">Resident</span>
    ${link('sessions', 'Sessions')}${link('live', 'Live')}${link('server', 'Server')}
    <span class="grow"></span>
    <span class="muted">${model ?? ''}</span>
    ${getKey() ? html`<button class="link" onClick=${() => (setKey(null), location.reload())}>forget key</button>` : null}
  </nav>`;
}

function App() {
  const route = useRoute();
  const [auth, setAuth] = useState({ state: 'checking' });
  const check = async () => {
    try {
      const s = await get('/v1/console/server');
      setAuth({ state: 'ok', model: s.model.id });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setAuth({ state: 'key', refused: !!getKey() });
      else setAuth({ state: 'error', message: e.message });
    }
  };
  useEffect(() => {
    check();
    return onUnauthorized(() => setAuth({ state: 'key', refused: !!getKey() }));
  }, []);
  if (auth.state === 'checking') return html`<p class="muted pad">Connecting…</p>`;
  if (auth.state === 'key') return html`<${KeyForm} refused=${auth.refused} onKey=${(k) => (setKey(k), setAuth({ state: 'checking' }), check())} />`;
  if (auth.state === 'error') return html`<p class="error pad">The server did not answer: ${auth.message} <button onClick=${check}>retry</button></p>`;
  const [page = 'sessions', arg] = route;
  const body = page === 'session' && arg ? html`<${SessionPage} key=${arg} id=${arg} />`
    : page === 'live' ? html`<${LivePage} key=${arg ?? ''} runId=${arg} />`
    : page === 'server' ? html`<${ServerPage} />`
    : html`<${SessionsPage} />`;
  return html`<${Nav} page=${page === 'session' ? 'sessions' : page} model=${auth.model} /><main>${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
