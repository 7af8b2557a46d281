/** Shapes shared by every tool source (built-ins, MCP servers, skills) and the registry. */

/** A JSON Schema object describing a tool's arguments; `type` is `'object'` at the top. */
export type JsonSchema = Record<string, unknown>;

/** What a tool receives besides its arguments. `signal` aborts on timeout or caller cancel. */
export interface ToolCallContext {
  signal: AbortSignal;
  /** The timeout this call runs under, in ms (already armed on `signal`). */
  timeoutMs: number;
}

/** A tool's answer: text for the model; `isError` marks a failure the model should see as such. */
export interface ToolResult {
  content: string;
  isError?: boolean;
}

/** A callable tool. `name` is the exposed name (`^[a-zA-Z0-9_-]{1,64}$`), unique in a registry. */
export interface Tool {
  name: string;
  description: string;
  inputSchema: JsonSchema;
  /** Where the tool comes from: `'builtin'`, `'mcp:<server>'`, `'skills'`, ... */
  source: string;
  /** Per-tool timeout overriding the registry default. */
  timeoutMs?: number;
  /** May throw; the registry turns throws into error outcomes. A bare string means `{content}`. */
  call(args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult | string>;
}

/** OpenAI-style tool definition as chat templates expect it. */
export interface OpenAIToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: JsonSchema };
}

/** One call the model asked for. `arguments` is the JSON text from the model, or an already-parsed object. */
export interface ToolCallRequest {
  id?: string;
  name: string;
  arguments?: string | Record<string, unknown> | null;
}

/** Kinds of failure reported as data. */
export type ToolErrorType =
  | 'unknown_tool'
  | 'invalid_arguments'
  | 'timeout'
  | 'aborted'
  | 'execution_error';

/**
 * Outcome of a registry call; never thrown. `content` is always the text to append as the tool message.
 * `ok: true` with `isError: true` is a tool-reported failure (e.g. an MCP result with `isError`).
 */
export type ToolOutcome =
  | {
      ok: true;
      id?: string;
      name: string;
      content: string;
      isError: boolean;
      truncated: boolean;
      durationMs: number;
    }
  | {
      ok: false;
      id?: string;
      name: string;
      error: { type: ToolErrorType; message: string };
      content: string;
      durationMs: number;
    };
