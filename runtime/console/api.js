// The console's door to the server: the API key (asked once, kept in sessionStorage, sent as a
// Bearer header — never in a URL), JSON calls, and a reader of server-sent events over fetch.
const KEY = 'resident.apiKey';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY));

/** An API error with the server's status, code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const listeners = new Set();
/** Called with no argument whenever the server answers 401 (the key is missing or wrong). */
export const onUnauthorized = (fn) => (listeners.add(fn), () => listeners.delete(fn));

function headers(json) {
  const h = {};
  const k = getKey();
  if (k) h.authorization = `Bearer ${k}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

/** fetch() with the key; throws ApiError on a non-2xx answer. */
export async function request(method, path, body, signal) {
  const res = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) {
    let code = null;
    let message = `${res.status} ${res.statusText}`;
    try {
      const e = (await res.json()).error;
      code = e?.code ?? null;
      message = e?.message ?? message;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) for (const fn of listeners) fn();
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export const get = async (path, signal) => (await request('GET', path, undefined, signal)).json();
export const post = async (path, body = {}) => (await request('POST', path, body)).json();
export const del = async (path) => (await request('DELETE', path)).json();

/** Yields {event, id, data} for each frame of an SSE response; `data` parsed as JSON when it is. */
export async function* sse(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const f = { event: 'message', id: null, data: '' };
      for (const line of frame.split('\n')) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const k = line.slice(0, i);
        const v = line.slice(i + 1).replace(/^ /, '');
        if (k === 'data') f.data += (f.data ? '\n' : '') + v;
        else if (k === 'event') f.event = v;
        else if (k === 'id') f.id = v;
      }
      try {
        f.data = JSON.parse(f.data);
      } catch {
        /* '[DONE]' and other text */
      }
      yield f;
    }
  }
}

/** POSTs `body` and yields the SSE frames of the answer. */
export async function* postStream(path, body, signal) {
  yield* sse(await request('POST', path, body, signal));
}

/** GETs `path` and yields the SSE frames of the answer. */
export async function* getStream(path, signal) {
  yield* sse(await request('GET', path, undefined, signal));
}
