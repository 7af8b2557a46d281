/**
 * The tool registry: tools from several sources under unique OpenAI-valid names, exported as `tools`
 * definitions for the chat template, called with validation, timeouts and a result-size cap.
 * `call`/`callMany` never throw: every failure is a `ToolOutcome` with `ok: false` (or `isError`).
 */
import { ToolAbortedError, ToolRegistrationError, ToolTimeoutError } from './errors.js';
import { SchemaValidator } from './schema-validator.js';
import type {
  OpenAIToolDefinition,
  Tool,
  ToolCallRequest,
  ToolErrorType,
  ToolOutcome,
  ToolResult,
} from './tool.js';
import { isValidToolName } from './tool-names.js';

/** Registry settings. */
export interface ToolRegistryOptions {
  /** Timeout for tools without their own `timeoutMs` (default 30 000 ms). */
  defaultTimeoutMs?: number;
  /** Result text longer than this (UTF-16 code units) is cut with a note (default 16 000). */
  maxResultChars?: number;
  /** Calls run at once by `callMany` (default 4). */
  concurrency?: number;
}

/** Per-call settings. */
export interface ToolCallOptions {
  /** Cancels the call(s); the outcome becomes `{ok:false, error:{type:'aborted'}}`. */
  signal?: AbortSignal;
  /** Overrides the tool's timeout for this call. */
  timeoutMs?: number;
}

/** Holds tools by exposed name. Registration errors throw `ToolRegistrationError`; calls never throw. */
export class ToolRegistry {
  readonly defaultTimeoutMs: number;
  readonly maxResultChars: number;
  readonly concurrency: number;
  private readonly tools = new Map<string, Tool>();
  private readonly validator = new SchemaValidator();
  private readonly warningList: string[] = [];

  constructor(options: ToolRegistryOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
    this.maxResultChars = options.maxResultChars ?? 16_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** Registration warnings (e.g. a schema ajv cannot compile; such a tool is called unvalidated). */
  get warnings(): readonly string[] {
    return this.warningList;
  }

  /** Adds tools; throws `ToolRegistrationError` on an invalid or duplicate name (nothing is added then). */
  add(...tools: Tool[]): this {
    const seen = new Set<string>();
    for (const t of tools) {
      if (!isValidToolName(t.name)) {
        throw new ToolRegistrationError(`tool name '${t.name}' (source ${t.source}) must match ^[a-zA-Z0-9_-]{1,64}$`);
      }
      if (this.tools.has(t.name) || seen.has(t.name)) {
        const other = this.tools.get(t.name)?.source ?? t.source;
        throw new ToolRegistrationError(`tool name '${t.name}' from ${t.source} is already registered by ${other}`);
      }
      if (!t.inputSchema || typeof t.inputSchema !== 'object' || Array.isArray(t.inputSchema)) {
        throw new ToolRegistrationError(`tool '${t.name}' (source ${t.source}): inputSchema must be a JSON Schema object`);
      }
      seen.add(t.name);
    }
    for (const t of tools) {
      this.tools.set(t.name, t);
      const compiled = this.validator.compile(t.inputSchema);
      if (compiled instanceof Error) {
        this.warningList.push(`tool '${t.name}' (source ${t.source}): input schema not compilable, arguments unchecked: ${compiled.message}`);
      }
    }
    return this;
  }

  /** Removes one tool by exposed name; true if it existed. */
  remove(name: string): boolean {
    return this.tools.delete(name);
  }

  /** Removes every tool of `source`; returns how many. */
  removeSource(source: string): number {
    let n = 0;
    for (const [name, t] of this.tools) if (t.source === source && this.tools.delete(name)) n++;
    return n;
  }

  /** The tool registered under `name`. */
  get(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  /** Exposed names, in registration order. */
  names(): string[] {
    return [...this.tools.keys()];
  }

  /** All tools, in registration order. */
  list(): Tool[] {
    return [...this.tools.values()];
  }

  /** OpenAI-style `tools` for the chat template; `names` restricts and orders the selection. */
  definitions(names?: readonly string[]): OpenAIToolDefinition[] {
    const chosen = names ? names.map((n) => this.tools.get(n)).filter((t): t is Tool => !!t) : this.list();
    return chosen.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.inputSchema },
    }));
  }

  /** Runs one call: parse → validate → call under timeout → cap the text. Never throws. */
  async call(request: ToolCallRequest, options: ToolCallOptions = {}): Promise<ToolOutcome> {
    const started = performance.now();
    const fail = (type: ToolErrorType, message: string): ToolOutcome => ({
      ok: false,
      ...(request.id !== undefined ? { id: request.id } : {}),
      name: request.name,
      error: { type, message },
      content: `Error (${type}): ${message}`,
      durationMs: performance.now() - started,
    });
    const tool = this.tools.get(request.name);
    if (!tool) {
      const known = this.names();
      return fail('unknown_tool', `no tool named '${request.name}'` + (known.length ? `; available: ${known.join(', ')}` : ''));
    }
    const parsed = parseArguments(request.arguments);
    if (!parsed.ok) return fail('invalid_arguments', parsed.message);
    const checked = this.validator.validate(tool.inputSchema, parsed.value);
    if (!checked.ok) return fail('invalid_arguments', `arguments for '${tool.name}' do not match its schema: ${checked.message}`);
    if (options.signal?.aborted) return fail('aborted', 'call cancelled before it started');

    const timeoutMs = options.timeoutMs ?? tool.timeoutMs ?? this.defaultTimeoutMs;
    let result: ToolResult;
    try {
      result = normalize(await runWithTimeout(tool, parsed.value, timeoutMs, options.signal));
    } catch (err) {
      if (err instanceof ToolTimeoutError) return fail('timeout', err.message);
      if (err instanceof ToolAbortedError) return fail('aborted', err.message);
      const e = err instanceof Error ? err : new Error(String(err));
      return fail('execution_error', `${e.name}: ${e.message}`);
    }
    const capped = capText(result.content, this.maxResultChars);
    return {
      ok: true,
      ...(request.id !== undefined ? { id: request.id } : {}),
      name: tool.name,
      content: capped.text,
      isError: result.isError === true,
      truncated: capped.truncated,
      durationMs: performance.now() - started,
    };
  }

  /** Runs calls in parallel (at most `concurrency` at once); outcomes in request order. Never throws. */
  async callMany(requests: readonly ToolCallRequest[], options: ToolCallOptions = {}): Promise<ToolOutcome[]> {
    const out: ToolOutcome[] = new Array(requests.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const i = next++;
        out[i] = await this.call(requests[i]!, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, requests.length) }, worker));
    return out;
  }
}

function parseArguments(raw: ToolCallRequest['arguments']):
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; message: string } {
  let value: unknown = raw;
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return { ok: true, value: {} };
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return { ok: false, message: `arguments are not valid JSON: ${(err as Error).message}` };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'arguments must be a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function normalize(r: ToolResult | string): ToolResult {
  if (typeof r === 'string') return { content: r };
  if (!r || typeof r.content !== 'string') return { content: JSON.stringify(r ?? null) };
  return r;
}

/** Calls the tool with a signal that aborts on timeout or caller abort; settles no later than either. */
async function runWithTimeout(
  tool: Tool,
  args: Record<string, unknown>,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<ToolResult | string> {
  const ac = new AbortController();
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<never>((_, reject) => {
    onAbort = () => {
      const reason = new ToolAbortedError(`call to '${tool.name}' was cancelled`);
      ac.abort(reason);
      reject(reason);
    };
    outer?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      const reason = new ToolTimeoutError(tool.name, timeoutMs);
      ac.abort(reason);
      reject(reason);
    }, timeoutMs);
  });
  try {
    const running = Promise.resolve().then(() => tool.call(args, { signal: ac.signal, timeoutMs }));
    running.catch(() => undefined); // a tool that rejects after the timeout must not be unhandled
    return await Promise.race([running, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
  }
}

/** Cuts `text` to `max` code units (never inside a surrogate pair) and appends a truncation note. */
export function capText(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let cut = max;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  const note = `\n\n[truncated: the result had ${text.length} characters; only the first ${cut} are shown]`;
  return { text: text.slice(0, cut) + note, truncated: true };
}
