/**
 * Legacy chat-completions function calling (`functions`, `function_call`, role `function`
 * messages, assistant `function_call`) mapped onto tools before validation, and the answer mapped
 * back to the legacy shape (`message.function_call`, finish_reason `function_call`) for clients
 * that sent the legacy fields. One call per turn, as the legacy API returns.
 */
import { badRequest } from './errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** True when the body uses the legacy fields. */
export function usesLegacyFunctions(raw: unknown): boolean {
  return isObj(raw) && (raw.functions !== undefined || raw.function_call !== undefined);
}

/** Rewrites a legacy body into the tools form (other bodies are returned as they are). */
export function mapLegacyFunctions(raw: unknown): unknown {
  if (!isObj(raw)) return raw;
  const out: Obj = { ...raw };
  if (raw.functions !== undefined || raw.function_call !== undefined) {
    if (raw.tools != null) throw badRequest("send 'tools' or the legacy 'functions', not both (migrate: tools = functions.map(f => ({type: 'function', function: f})))", 'functions');
    if (raw.tool_choice != null && raw.function_call !== undefined) throw badRequest("send 'tool_choice' or the legacy 'function_call', not both", 'function_call');
    if (raw.functions !== undefined) {
      if (!Array.isArray(raw.functions)) throw badRequest("'functions' must be of type array (legacy; prefer 'tools')", 'functions');
      out.tools = raw.functions.map((f) => ({ type: 'function', function: f }));
    }
    const fc = raw.function_call;
    if (fc === 'none' || fc === 'auto') out.tool_choice = fc;
    else if (isObj(fc) && typeof fc.name === 'string') out.tool_choice = { type: 'function', function: { name: fc.name } };
    else if (fc !== undefined) throw badRequest(`'function_call' must be "none", "auto" or {"name": …} (legacy; prefer 'tool_choice'), got ${JSON.stringify(fc)}`, 'function_call');
    out.parallel_tool_calls = false;
    delete out.functions;
    delete out.function_call;
  }
  if (Array.isArray(raw.messages)) out.messages = legacyMessages(raw.messages);
  return out;
}

/** Assistant `function_call` → one tool call; role `function` → a tool message answering the last call of that name. */
function legacyMessages(messages: unknown[]): unknown[] {
  let n = 0;
  const lastId = new Map<string, string>();
  return messages.map((m) => {
    if (!isObj(m)) return m;
    if (m.role === 'assistant' && isObj(m.function_call) && m.tool_calls == null) {
      const id = `call_legacy_${n++}`;
      const { function_call, ...rest } = m;
      lastId.set(String(function_call.name), id);
      return { ...rest, tool_calls: [{ id, type: 'function', function: function_call }] };
    }
    if (m.role === 'function') {
      const { name, ...rest } = m;
      const id = lastId.get(String(name));
      if (!id) throw badRequest(`a 'function' message for '${String(name)}' answers no earlier assistant function_call (prefer role 'tool' with tool_call_id)`, 'messages');
      return { ...rest, role: 'tool', tool_call_id: id };
    }
    return m;
  });
}

type ToolCallDelta = { index?: number; id?: string; type?: string; function?: { name?: string; arguments?: unknown } };

/** A completion message in the legacy shape: its first tool call as `function_call`. */
export function legacyMessage<M extends { tool_calls?: ToolCallDelta[] }>(m: M): Omit<M, 'tool_calls'> & { function_call?: unknown } {
  const { tool_calls, ...rest } = m;
  const f = tool_calls?.[0]?.function;
  return f ? { ...rest, function_call: { name: f.name, arguments: f.arguments } } : rest;
}

/** A stream delta in the legacy shape. */
export const legacyDelta = (d: Record<string, unknown>) => legacyMessage(d as { tool_calls?: ToolCallDelta[] });

/** finish_reason in the legacy shape. */
export const legacyFinish = (f: string | null) => (f === 'tool_calls' ? 'function_call' : f);
