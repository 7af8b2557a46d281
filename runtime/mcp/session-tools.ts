/**
 * The session tools of the MCP server: session_create, session_append, session_generate,
 * session_fork, session_rollback, session_info, session_list, session_delete, session_repair. Sessions are
 * addressed by our own ids (ulid) or names passed as `session_id` — never by the transport's
 * Mcp-Session-Id. Long prefills and generations report progress; cancellation aborts them.
 */
import { InvariantError } from '../../engine/util/resident-error.js';
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import { agentServiceFor } from '../agent/service.js';
import { chatMessagesOf } from '../chat/conversation.js';
import type { TurnResult } from '../chat/types.js';
import type { Host } from '../host/host.js';
import { checkMessages, checkTools, turnOptionsOf } from '../http/request-checks.js';
import { messageSchema, toolSchema } from '../http/schemas.js';
import { HttpError } from '../http/errors.js';
import { damagedList, repairSession } from '../http/session-repair.js';
import { sessionSummary, sessionView } from '../http/sessions-routes.js';
import { withPolledProgress, type McpCallContext } from './progress.js';
import { McpToolArgumentError, type McpToolDef } from './tool-def.js';
import { LOCAL_TENANT, type Tenant } from '../tenants/tenant.js';
import { ownerOf, visibleSession, visibleSessions } from '../tenants/visibility.js';

const sessionId = { type: 'string', minLength: 1, description: 'Session id (ulid) or name' };
const messages = { type: 'array', minItems: 1, items: messageSchema, description: 'OpenAI-style chat messages' };
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, properties, required });

/** A session `t` sees, by id or name; McpToolArgumentError when missing (another tenant's is as missing). */
export function findSession(host: Host, key: string, t: Tenant = LOCAL_TENANT): Session {
  if (t.role === 'admin' && host.store.damaged.has(key)) throw new McpToolArgumentError(`session '${key}' is damaged: call session_repair`);
  const s = visibleSession(host.store, t, key);
  if (!s) throw new McpToolArgumentError(`session '${key}' not found`);
  return s;
}

/** Appends with progress polled from the KV slot's length. */
async function appendWithProgress<T>(s: Session, ctx: McpCallContext, fn: () => Promise<T>): Promise<T> {
  return withPolledProgress(ctx.progress, () => s.slot?.length ?? 0, 'prefill: tokens in the KV slot', fn);
}

const appended = (r: { tokens: number; prefilled: number; firstMessage: number }) => ({ tokens: r.tokens, prefilled_tokens: r.prefilled, first_message: r.firstMessage });

function turnView(r: TurnResult) {
  return {
    session_id: r.sessionId,
    finish_reason: r.finish,
    content: r.message.content ?? null,
    ...(r.message.reasoning_content ? { reasoning_content: r.message.reasoning_content } : {}),
    tool_calls: r.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.argumentsJson })),
    usage: { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, prefilled_tokens: r.usage.prefilled, reused_tokens: r.usage.reused },
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}

/** The session tools for `host`, acting as tenant `t`. */
export function sessionTools(host: Host, t: Tenant = LOCAL_TENANT): McpToolDef[] {
  const ownNamed = (owner: string, name: string) => host.store.list().some((x) => x.state.settings.name === name && ownerOf(x) === owner);
  const lastMessage = (s: Session) => chatMessagesOf(s).at(-1);
  return [
    {
      name: 'session_create',
      description: 'Create a resident session (its context stays in a KV slot). Optionally with tools (OpenAI definitions, or tool_sources for agent runs) and initial messages. Returns the session id to pass to the other tools.',
      inputSchema: obj({
        name: { type: 'string', pattern: '^[\\w.:@-]{1,128}$', description: 'Optional unique name' },
        messages: { ...messages, minItems: 0 },
        tools: { type: 'array', items: toolSchema, maxItems: 512 },
        tool_sources: { type: 'array', items: { type: 'string' }, description: "Agent tool sources ('builtin', 'mcp', 'mcp:<server>', 'skills', …) rendered as the session's tools" },
        chat_template_kwargs: { type: 'object' },
      }),
      async run(a, ctx) {
        if (a.tools && a.tool_sources) throw new McpToolArgumentError('give tools or tool_sources, not both');
        let tools = a.tools as ToolDefinition[] | undefined;
        if (a.tool_sources) tools = (await agentServiceFor(host).tools.registry(a.tool_sources as string[])).definitions() as ToolDefinition[];
        checkTools(tools);
        const msgs = (a.messages as ChatMessage[] | undefined) ?? [];
        if (msgs.length) checkMessages(msgs, tools);
        if (a.name !== undefined && ownNamed(t.id, a.name as string)) throw new McpToolArgumentError(`a session named '${a.name}' already exists`);
        const s = await host.runner.createSession({ tools, kwargs: a.chat_template_kwargs as Record<string, unknown> | undefined, settings: { origin: 'mcp', ...(a.name ? { name: a.name } : {}) }, tenant: t.id });
        try {
          if (msgs.length) await appendWithProgress(s, ctx, () => host.runner.appendMessages(s, msgs, { signal: ctx.signal }));
        } catch (e) {
          await host.store.delete(s.id).catch(() => undefined);
          throw e;
        }
        return { session_id: s.id, session: sessionSummary(s) };
      },
    },
    {
      name: 'session_append',
      description: 'Append chat messages or a raw document to a session without generating. Only the new tokens are computed; progress is reported during the prefill.',
      inputSchema: { ...obj({ session_id: sessionId, messages, document: { type: 'string', minLength: 1 } }, ['session_id']), oneOf: [{ required: ['messages'] }, { required: ['document'] }] },
      async run(a, ctx) {
        const s = findSession(host, a.session_id as string, t);
        let r;
        if (a.messages) {
          checkMessages(a.messages as ChatMessage[], s.state.tools as ToolDefinition[], 'messages', lastMessage(s));
          r = await appendWithProgress(s, ctx, () => host.runner.appendMessages(s, a.messages as ChatMessage[], { signal: ctx.signal }));
        } else r = await appendWithProgress(s, ctx, () => host.runner.appendDocument(s, a.document as string, { signal: ctx.signal }));
        ctx.progress.report(r.prefilled, { total: r.prefilled, message: 'prefill done', force: true });
        return { session_id: s.id, appended: appended(r), token_count: r.tokenCount };
      },
    },
    {
      name: 'session_generate',
      description: "Run one assistant turn on a session (optionally appending messages first): constrained tool calls when the session has tools. Progress is reported per generated piece; cancel to stop.",
      inputSchema: obj({
        session_id: sessionId,
        messages: { ...messages, minItems: 0 },
        max_tokens: { type: 'integer', minimum: 1 },
        temperature: { type: 'number', minimum: 0, maximum: 2 },
        top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        seed: { type: 'integer' },
        logit_bias: { type: 'object', maxProperties: 1024, description: 'OpenAI logit_bias: {"<token id>": bias in [-100, 100]}' },
        stop: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 16 },
        tool_choice: { type: ['string', 'object'] },
        parallel_tool_calls: { type: 'boolean' },
        response_format: { type: 'object' },
        chat_template_kwargs: { type: 'object' },
      }, ['session_id']),
      async run(a, ctx) {
        const s = findSession(host, a.session_id as string, t);
        const msgs = (a.messages as ChatMessage[] | undefined) ?? [];
        if (msgs.length) checkMessages(msgs, s.state.tools as ToolDefinition[], 'messages', lastMessage(s));
        const { session_id: _id, messages: _m, ...gen } = a;
        const opts = turnOptionsOf(gen as Parameters<typeof turnOptionsOf>[0], ctx.signal);
        let pieces = 0;
        let result: TurnResult | undefined;
        for await (const e of host.runner.turn(s, msgs, opts)) {
          if (e.type === 'start') ctx.progress.report(0.5, { message: `prompt ready: ${e.prefilled} tokens prefilled, ${e.reused} reused`, force: true });
          else if (e.type === 'finish') result = e.result;
          else ctx.progress.report(++pieces, { message: e.type });
        }
        if (!result) throw new InvariantError('the turn ended without a result');
        return turnView(result);
      },
    },
    {
      name: 'session_fork',
      description: "Fork a session: a new session sharing its history (all of it, or before message index `message`). The K/V is copied, not recomputed.",
      inputSchema: obj({ session_id: sessionId, message: { type: 'integer', minimum: 0 }, name: { type: 'string', pattern: '^[\\w.:@-]{1,128}$' } }, ['session_id']),
      async run(a) {
        const s = findSession(host, a.session_id as string, t);
        if (a.name !== undefined && ownNamed(ownerOf(s), a.name as string)) throw new McpToolArgumentError(`a session named '${a.name}' already exists`);
        const child = await host.runner.fork(s, a.message as number | undefined, { origin: 'mcp', ...(a.name ? { name: a.name } : {}) });
        return { session_id: child.id, session: sessionSummary(child) };
      },
    },
    {
      name: 'session_rollback',
      description: 'Roll a session back to just before message index `message` (the K/V before it is kept).',
      inputSchema: obj({ session_id: sessionId, message: { type: 'integer', minimum: 0 } }, ['session_id', 'message']),
      async run(a) {
        const s = findSession(host, a.session_id as string, t);
        const r = await host.runner.rollback(s, a.message as number);
        return { session_id: s.id, messages: r.messages, token_count: r.tokenCount };
      },
    },
    {
      name: 'session_info',
      description: 'A session: counters, residency, tools and its messages.',
      inputSchema: obj({ session_id: sessionId }, ['session_id']),
      async run(a) {
        return sessionView(findSession(host, a.session_id as string, t)) as unknown as Record<string, unknown>;
      },
    },
    {
      name: 'session_list',
      description: 'Every session with its token count and residency.',
      inputSchema: obj({}),
      async run() {
        return { sessions: visibleSessions(host.store.list(), t).map(sessionSummary), damaged: t.role === 'admin' ? damagedList(host) : [] };
      },
    },
    {
      name: 'session_repair',
      description: "Repair a damaged session (listed under 'damaged' by session_list): its journal is cut before the first bad record; reports the bytes dropped.",
      inputSchema: obj({ session_id: { type: 'string', minLength: 1, description: 'Session id (ulid)' } }, ['session_id']),
      async run(a) {
        try {
          if (t.role !== 'admin') findSession(host, a.session_id as string, t); // another tenant's (or a damaged one) is not found
          return await repairSession(host, a.session_id as string);
        } catch (e) {
          if (e instanceof HttpError) throw new McpToolArgumentError(e.message);
          throw e;
        }
      },
    },
    {
      name: 'session_delete',
      description: 'Delete a session (its KV slot and files).',
      inputSchema: obj({ session_id: sessionId }, ['session_id']),
      async run(a) {
        const s = findSession(host, a.session_id as string, t);
        await host.runner.locked(s, () => host.store.delete(s.id));
        return { session_id: s.id, deleted: true };
      },
    },
  ];
}
