/**
 * What the examples share: flags (`--url`, `--api-key`, example-specific ones), a JSON client for
 * the HTTP API that turns OpenAI-shaped errors into exceptions, and an SSE reader.
 */
import { parseArgs } from 'node:util';

/** An HTTP error answer of the server. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface ExampleArgs {
  url: string;
  apiKey?: string;
  values: Record<string, string | boolean | undefined>;
}

/** Parses `--url URL [--api-key KEY]` plus `extra` string/boolean flags; prints usage and exits 2 on bad flags. */
export function exampleArgs(name: string, extra: Record<string, { type: 'string' | 'boolean'; help: string }> = {}): ExampleArgs {
  const options = { url: { type: 'string' }, 'api-key': { type: 'string' }, help: { type: 'boolean' }, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { type: v.type }])) } as const;
  const usage = `Usage: npx tsx examples/${name}/main.ts --url http://127.0.0.1:PORT [--api-key KEY]${Object.entries(extra).map(([k, v]) => `\n  --${k}${v.type === 'string' ? ' VALUE' : ''}  ${v.help}`).join('')}\n`;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: options as never, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const url = (values.url as string | undefined) ?? process.env.RESIDENT_URL ?? 'http://127.0.0.1:8080';
  return { url: url.replace(/\/+$/, ''), apiKey: (values['api-key'] as string | undefined) ?? process.env.RESIDENT_API_KEY, values };
}

/** A small client of the Resident HTTP API. */
export class Api {
  constructor(readonly base: string, readonly apiKey?: string) {}

  headers(): Record<string, string> {
    return { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) };
  }

  /** Sends a JSON request; resolves to the JSON answer, throws ApiError for a non-2xx status. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + path, { method, headers: this.headers(), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    }
    if (!res.ok) throw new ApiError(res.status, `${method} ${path}: ${res.status} ${(json as { error?: { message?: string } }).error?.message ?? text.slice(0, 200)}`);
    return json as T;
  }

  /** POSTs and reads the answer as SSE, calling `onEvent` per `data:` JSON; resolves when the stream ends. */
  async stream(path: string, body: unknown, onEvent: (e: Record<string, unknown>) => void): Promise<void> {
    const res = await fetch(this.base + path, { method: 'POST', headers: this.headers(), body: JSON.stringify(body) });
    if (!res.ok) throw new ApiError(res.status, `POST ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    await readSse(res, onEvent);
  }
}

/** Reads an SSE body; `data:` lines of a frame are parsed as JSON (`[DONE]` is skipped). */
export async function readSse(res: Response, onEvent: (e: Record<string, unknown>) => void): Promise<void> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(0, i).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      buf = buf.slice(i + 2);
      if (data && data !== '[DONE]') onEvent(JSON.parse(data) as Record<string, unknown>);
    }
  }
}

/** Prints a line to stdout. */
export const say = (line = '') => process.stdout.write(`${line}\n`);

/** One line per agent event (for the agent examples). */
export function describeAgentEvent(e: Record<string, unknown>): string | undefined {
  const step = `step ${String(e.step)}`;
  switch (e.type) {
    case 'run_start': return `run ${String(e.runId)} on session ${String(e.sessionId)}${e.resumed ? ' (resumed)' : ''}, tools: ${(e.tools as string[]).join(', ')}`;
    case 'turn_start': return `${step}: prompt ready — ${String(e.prefilled)} tokens prefilled, ${String(e.reused)} reused`;
    case 'tool_call': return `${step}: model calls ${String(e.name)} ${String(e.arguments).slice(0, 160)}`;
    case 'tool_call_error': return `${step}: malformed call: ${String(e.message)}`;
    case 'tool_result': return `${step}: ${String(e.name)} → ${e.ok && !e.isError ? 'ok' : `error${e.error ? ` (${String(e.error).slice(0, 120)})` : ''}`} in ${String(e.durationMs)} ms: ${String(e.preview).replace(/\s+/g, ' ').slice(0, 100)}`;
    case 'turn_end': return `${step}: turn ended (${String(e.finish)}, ${String(e.completionTokens)} tokens)`;
    case 'run_end': {
      const r = e.result as { status: string; steps: number; usage: { prefilled: number; reused: number; completionTokens: number }; answer: string };
      return `run ended: ${r.status} after ${r.steps} tool steps; prefilled ${r.usage.prefilled}, reused ${r.usage.reused}, generated ${r.usage.completionTokens} tokens`;
    }
    default: return undefined;
  }
}

/** Runs `main`, printing errors and setting the exit code. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`${e.name}: ${e.message}\n`);
      process.exit(1);
    },
  );
}
