/**
 * The agent service of a host: starts runs (new or existing session), resumes interrupted ones
 * from their session's record, lists and cancels them. One per Host (see agentServiceFor); shared by
 * the HTTP routes and the MCP server.
 */
import { ulid } from 'ulid';
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import { chatMessagesOf } from '../chat/conversation.js';
import type { Host } from '../host/host.js';
import { AgentRun, type AgentRunSummary } from './agent-run.js';
import { AgentRequestError, AgentRunNotFoundError, AgentRunStateError } from './errors.js';
import { runAgentLoop, SHUTDOWN } from './loop.js';
import { capDefinitions } from './schema-caps.js';
import { readRunRecord, writeRunRecord } from './run-record.js';
import { agentToolsConfigFromEnv, ToolSources, type AgentToolsConfig } from './tool-sources.js';
import { canSee, DEFAULT_TENANT_ID, LOCAL_TENANT, type Tenant } from '../tenants/tenant.js';
import { ownerOf, visibleSession, visibleSessions } from '../tenants/visibility.js';
import type { AgentRunRecord, AgentRunRequest, AgentRunResult } from './types.js';

/** Default system prompt of an agent session (the skills catalog and the request's `system` follow it). */
export const AGENT_SYSTEM_PROMPT =
  "You are an agent working toward the user's goal. Call the tools you need (several at once when they are independent); " +
  'every result comes back to you as a tool message, errors included. When you have the answer, reply with it as plain text without calling a tool.';

const sameNames = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
/** A named tool choice must name one of the run's tools: refused before the run starts. */
function checkToolChoice(req: AgentRunRequest, names: readonly string[]): void {
  const choice = req.toolChoice;
  if (typeof choice === 'object' && !names.includes(choice.name)) {
    throw new AgentRequestError(`tool_choice names the tool ${JSON.stringify(choice.name)}, which is not among the run's tools (${names.join(', ')})`, 'tool_choice');
  }
}

const toolNames = (s: Session) => (s.state.tools as ToolDefinition[]).map((t) => t.function.name);

export class AgentService {
  readonly tools: ToolSources;
  private readonly runs = new Map<string, AgentRun>();
  /** Run id → the tenant owning its session (runs are seen by whoever sees their session). */
  private readonly owners = new Map<string, string>();

  constructor(readonly host: Host, readonly config: AgentToolsConfig = {}) {
    this.tools = new ToolSources(config, host.mcp, host.skills, host.log);
  }

  /** A session `t` sees, by id or name; AgentRequestError when missing (or another tenant's). */
  session(key: string, t: Tenant = LOCAL_TENANT): Session {
    const s = visibleSession(this.host.store, t, key);
    if (!s) throw new AgentRequestError(`session '${key}' not found`, 'session_id');
    return s;
  }

  /** A run in this process that `t` sees, by id. */
  get(runId: string, t: Tenant = LOCAL_TENANT): AgentRun | undefined {
    const run = this.runs.get(runId);
    return run && canSee(t, this.owners.get(runId) ?? DEFAULT_TENANT_ID) ? run : undefined;
  }

  private activeOn(sessionId: string): AgentRun | undefined {
    return [...this.runs.values()].find((r) => r.sessionId === sessionId && r.running);
  }

  /** Starts a run; throws AgentRequestError for a bad request (before anything changes). Events follow on the returned run. */
  async start(req: AgentRunRequest, t: Tenant = LOCAL_TENANT): Promise<AgentRun> {
    const runner = this.host.runner;
    let session: Session;
    let created = false;
    if (req.sessionId !== undefined) {
      session = this.session(req.sessionId, t);
      if (this.activeOn(session.id)) throw new AgentRunStateError(`session ${session.id} already has a running agent run`);
      const has = session.tokens.length > 0;
      if (has) {
        const current = toolNames(session);
        const reg = await this.tools.registry(req.toolSources, req.toolSources ? undefined : current);
        if (req.toolSources && !sameNames(reg.names(), current)) {
          throw new AgentRequestError(`session ${session.id} was created with the tools [${current.join(', ')}]; tool_sources give [${reg.names().join(', ')}]. Run on a new session, or omit tool_sources to use the session's tools`, 'tool_sources');
        }
        if (req.system !== undefined) throw new AgentRequestError('system applies to new sessions only: this session already holds a conversation', 'system');
        checkToolChoice(req, current);
      } else {
        const reg = await this.tools.registry(req.toolSources);
        checkToolChoice(req, reg.names());
        await session.setMeta({ tools: capDefinitions(reg.definitions() as ToolDefinition[], req.maxArgumentChars) });
      }
    } else {
      const reg = await this.tools.registry(req.toolSources);
      checkToolChoice(req, reg.names());
      session = await runner.createSession({ tools: capDefinitions(reg.definitions() as ToolDefinition[], req.maxArgumentChars), settings: { origin: 'agent' }, tenant: t.id });
      created = true;
    }
    const system = session.tokens.length === 0 ? this.systemPrompt(req.system) : undefined;
    const before = chatMessagesOf(session).length;
    const rec: AgentRunRecord = {
      v: 1, runId: ulid(), goal: req.goal, status: 'running', startMessage: before + (system ? 1 : 0),
      options: { ...(req.toolSources ? { toolSources: req.toolSources } : {}), ...strip(req) },
      tools: toolNames(session), steps: 0, toolCalls: [],
      usage: { turns: 0, prefilled: 0, reused: 0, completionTokens: 0, contextTokens: session.tokens.length },
      startedAt: Date.now(), updatedAt: Date.now(), resumes: 0,
      ...(system ? { system } : {}),
    };
    try {
      await writeRunRecord(session, rec);
    } catch (e) {
      if (created) await this.host.store.delete(session.id).catch(() => undefined);
      throw e;
    }
    const initial: ChatMessage[] = [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: req.goal }];
    return this.launch(session, rec, initial, false);
  }

  /** Resumes a run recorded in a session (after a restart, or a cancel). */
  async resume(runId: string, o: { maxSteps?: number } = {}, t: Tenant = LOCAL_TENANT): Promise<AgentRun> {
    const live = this.get(runId, t);
    if (live?.running) throw new AgentRunStateError(`agent run ${runId} is running`);
    const found = this.recorded(t).find((x) => x.record.runId === runId);
    if (!found) throw new AgentRunNotFoundError(runId);
    const { session, record: rec } = found;
    if (this.activeOn(session.id)) throw new AgentRunStateError(`session ${session.id} already has a running agent run`);
    if (rec.status === 'done' || (rec.status === 'max_steps' && !(o.maxSteps !== undefined && o.maxSteps > rec.steps))) {
      throw new AgentRunStateError(`agent run ${runId} already ended (${rec.status}); nothing to resume`);
    }
    if (o.maxSteps !== undefined) rec.options.maxSteps = o.maxSteps;
    rec.status = 'running';
    rec.resumes++;
    delete rec.error;
    await writeRunRecord(session, rec);
    const have = chatMessagesOf(session).length;
    let initial: ChatMessage[] | undefined;
    if (have <= rec.startMessage) initial = [...(have === 0 && rec.system ? [{ role: 'system' as const, content: rec.system }] : []), { role: 'user', content: rec.goal }];
    return this.launch(session, rec, initial, true);
  }

  private async launch(session: Session, rec: AgentRunRecord, initial: ChatMessage[] | undefined, resumed: boolean): Promise<AgentRun> {
    const registry = await this.tools.registry(rec.options.toolSources, rec.tools);
    const run = new AgentRun(rec.runId, session.id, rec.goal);
    this.runs.set(run.runId, run);
    this.owners.set(run.runId, ownerOf(session));
    const runner = this.host.runner;
    run.done = (async (): Promise<AgentRunResult> => {
      let result: AgentRunResult;
      const release = await runner.locks.acquire(session.id);
      try {
        run.push({ type: 'run_start', runId: rec.runId, sessionId: session.id, goal: rec.goal, resumed, step: rec.steps, tools: registry.names() });
        result = await runAgentLoop({ runner, registry, session, record: rec, initial, signal: run.abort.signal, emit: (e) => run.push(e) });
      } catch (e) {
        result = { runId: rec.runId, sessionId: session.id, status: 'error', answer: '', steps: rec.steps, toolCalls: rec.toolCalls, usage: rec.usage, error: `${(e as Error).name}: ${(e as Error).message}`, warnings: [] };
      } finally {
        release();
      }
      run.push({ type: 'run_end', result });
      return result;
    })();
    return run;
  }

  private systemPrompt(extra?: string): string {
    return [AGENT_SYSTEM_PROMPT, this.tools.skillsCatalogText(), extra ?? ''].filter((s) => s.trim() !== '').join('\n\n');
  }

  /** Sessions `t` sees holding a run record. */
  recorded(t: Tenant = LOCAL_TENANT): { session: Session; record: AgentRunRecord }[] {
    const out: { session: Session; record: AgentRunRecord }[] = [];
    for (const s of visibleSessions(this.host.store.list(), t)) {
      const record = readRunRecord(s);
      if (record) out.push({ session: s, record });
    }
    return out;
  }

  /** Runs of this process, plus runs recorded in sessions (those left running by a restart show as 'interrupted'). */
  list(t: Tenant = LOCAL_TENANT): AgentRunSummary[] {
    const out = [...this.runs.values()].filter((r) => this.get(r.runId, t)).map((r) => r.summary());
    for (const { session, record } of this.recorded(t)) {
      if (out.some((x) => x.run_id === record.runId)) continue;
      out.push({ run_id: record.runId, session_id: session.id, goal: record.goal, status: record.status === 'running' ? 'interrupted' : record.status, steps: record.steps, started_at: Math.floor(record.startedAt / 1000) });
    }
    return out.sort((a, b) => a.started_at - b.started_at);
  }

  /** A run's summary (in memory or recorded). */
  summary(runId: string, t: Tenant = LOCAL_TENANT): AgentRunSummary {
    const live = this.get(runId, t);
    if (live) return live.summary();
    const s = this.list(t).find((x) => x.run_id === runId);
    if (!s) throw new AgentRunNotFoundError(runId);
    return s;
  }

  /** Cancels a running run; resolves with its result. */
  async cancel(runId: string, t: Tenant = LOCAL_TENANT): Promise<AgentRunResult> {
    const run = this.get(runId, t);
    if (!run) throw new AgentRunNotFoundError(runId);
    run.cancel();
    return run.done;
  }

  /** Stops every run (their records stay 'running': resumable after a restart), closes MCP connections. */
  async close(): Promise<void> {
    for (const r of this.runs.values()) r.cancel(SHUTDOWN);
    await Promise.allSettled([...this.runs.values()].map((r) => r.done));
    await this.tools.close();
  }
}

function strip(req: AgentRunRequest): AgentRunRecord['options'] {
  const { goal: _g, sessionId: _s, system: _y, toolSources: _t, ...rest } = req;
  return rest;
}

const services = new WeakMap<Host, AgentService>();

/** Sets the agent tool settings of a host (before its first use; later calls replace an unused service). */
export function configureAgent(host: Host, config: AgentToolsConfig): AgentService {
  const s = new AgentService(host, config);
  services.set(host, s);
  return s;
}

/** The host's agent service, created with settings from the environment on first use. */
export function agentServiceFor(host: Host): AgentService {
  let s = services.get(host);
  if (!s) services.set(host, (s = new AgentService(host, agentToolsConfigFromEnv())));
  return s;
}
