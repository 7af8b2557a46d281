// A hook that fetches a JSON path now and every `everyMs` (0: once), exposing data, error and reload.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get } from './api.js';

export function usePoll(path, everyMs = 0) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useRef(true);
  const load = useCallback(async () => {
    try {
      const data = await get(path);
      if (alive.current) setState({ data, error: null });
    } catch (e) {
      if (alive.current) setState((s) => ({ data: s.data, error: e }));
    }
  }, [path]);
  useEffect(() => {
    alive.current = true;
    load();
    const t = everyMs ? setInterval(load, everyMs) : null;
    return () => {
      alive.current = false;
      if (t) clearInterval(t);
    };
  }, [load, everyMs]);
  return { ...state, reload: load };
}
