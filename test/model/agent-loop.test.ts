/**
 * The agent loop over the HTTP agent-run API with the tiny model and a real stdio MCP tool server
 * (the fake browser): SSE events, tool calls that validate, tool results appended as one prefill,
 * result caps, failed tools as error results, skills, the journaled run record, cancel and resume,
 * and request errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_SKILLS_DIR } from '../../skills/index.js';
import { readRunRecord } from '../../runtime/agent/run-record.js';
import { chatMessagesOf } from '../../runtime/chat/conversation.js';
import { REPO, readSse, removeDir, skipReason, startTestServer, type TestServer } from '../fixtures/agent/harness.js';
import { AGENT_RUN_ARGS, checkToolCallsValidate } from '../fixtures/agent/checks.js';

let srv: TestServer | undefined;

beforeAll(async () => {
  await skipReason(); // throws with the reason when the model or engine is missing
  srv = await startTestServer({ config: { mcpConfig: `${REPO}examples/computer-use-mcp/mcp.json`, skills: [EXAMPLE_SKILLS_DIR] }, agent: { maxResultChars: 64 } });
});

afterAll(async () => {
  await srv?.close();
  if (srv) removeDir(srv.dataDir);
});

const post = (path: string, body: unknown) => fetch(`${srv!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
type Ev = Record<string, unknown> & { type: string; seq: number; step: number };

describe('agent loop (HTTP agent-run API)', () => {
  it('streams a run: calls validate, results are capped and appended as one prefill, the run is journaled', async () => {
    const res = await post('/v1/agent/runs', { ...AGENT_RUN_ARGS, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await readSse(res)) as Ev[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(events[0]!.type).toBe('run_start');
    expect(events.at(-1)!.type).toBe('run_end');
    const result = events.at(-1)!.result as { status: string; sessionId: string; steps: number; toolCalls: never[]; usage: { turns: number; prefilled: number } };
    expect(['done', 'max_steps']).toContain(result.status);
    expect(result.steps).toBeGreaterThanOrEqual(1);
    checkToolCallsValidate(result.toolCalls, /^browser__/);

    const results = events.filter((e) => e.type === 'tool_result');
    expect(results.length).toBe(result.toolCalls.length);
    expect(results.some((e) => e.truncated === true)).toBe(true); // screens exceed the 64-character cap
    // Each tool step's results go in with the next turn: only their tokens are prefilled.
    const starts = events.filter((e) => e.type === 'turn_start') as (Ev & { promptTokens: number; prefilled: number; reused: number })[];
    expect(starts.length).toBe(result.usage.turns);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]!.reused).toBeGreaterThan(starts[i - 1]!.promptTokens); // the previous prompt and the answer stayed resident
      expect(starts[i]!.prefilled).toBeLessThan(starts[i]!.promptTokens - starts[i - 1]!.promptTokens + 1);
    }
    // The record is in the session's settings (journaled) and the conversation holds the steps.
    const session = srv!.host.store.get(result.sessionId);
    const rec = readRunRecord(session)!;
    expect(rec.status).toBe(result.status);
    expect(rec.steps).toBe(result.steps);
    const msgs = chatMessagesOf(session);
    expect(msgs[0]!.role).toBe('system');
    expect(msgs.filter((m) => m.role === 'tool').length).toBe(result.toolCalls.length);
    const summary = await (await fetch(`${srv!.url}/v1/agent/runs/${rec.runId}`)).json() as { status: string; result: unknown };
    expect(summary.status).toBe(result.status);
  });

  it('turns failing tools into error results, not exceptions', async () => {
    // 1 ms: below the fake browser's 5 ms per action, so every call that reaches the browser times out
    const r = await (await post('/v1/agent/runs', { ...AGENT_RUN_ARGS, seed: 4, tool_timeout_ms: 1, wait: true })).json() as { status: string; sessionId: string; toolCalls: { ok: boolean; error?: string; isError: boolean }[]; steps: number };
    expect(['done', 'max_steps']).toContain(r.status);
    expect(r.toolCalls.length).toBeGreaterThan(0);
    const timedOut = r.toolCalls.filter((c) => c.error === 'timeout');
    expect(timedOut.length).toBeGreaterThan(0);
    for (const c of timedOut) expect(c.isError && !c.ok).toBe(true);
    // The model saw the failures as tool messages.
    const tools = chatMessagesOf(srv!.host.store.get(r.sessionId)).filter((m) => m.role === 'tool').map((m) => String(m.content));
    expect(tools.filter((t) => t.startsWith('Error (timeout)')).length).toBe(timedOut.length);
  });

  it('offers skills without touching the prefix: the catalog is in the system prompt, activate_skill answers as a tool', async () => {
    // A named tool choice makes the random-weight model call activate_skill (its arguments are its own).
    const r = await (await post('/v1/agent/runs', { goal: 'Review my code.', tool_sources: ['skills'], max_steps: 1, max_tokens: 96, max_argument_chars: 24, tool_choice: { name: 'activate_skill' }, enable_thinking: false, seed: 2, wait: true })).json() as { sessionId: string; toolCalls: { name: string; ok: boolean }[] };
    checkToolCallsValidate(r.toolCalls as never[], /^activate_skill$/);
    const session = srv!.host.store.get(r.sessionId);
    const msgs = chatMessagesOf(session);
    expect(String(msgs[0]!.content)).toMatch(/<available_skills>[\s\S]*code-review/);
    expect((session.state.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['activate_skill', 'read_skill_file']);
    expect(r.toolCalls.map((c) => c.name)).toEqual(['activate_skill']);
    expect(msgs.filter((m) => m.role === 'tool').map((m) => String(m.content)).join('\n')).toMatch(/<skill name="(code-review|web-research)">/);
  });

  it('refuses a named tool choice that is not among the run\'s tools before running', async () => {
    const res = await post('/v1/agent/runs', { goal: 'Review my code.', tool_sources: ['skills'], max_steps: 1, tool_choice: { name: 'no_such_tool' }, wait: true });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect([res.status, body.error.code]).toEqual([400, 'invalid_agent_request']);
    expect(body.error.message).toMatch(/no_such_tool.*activate_skill, read_skill_file/);
  });

  it('cancels a running run and resumes it from its session', async () => {
    const started = await (await post('/v1/agent/runs', { ...AGENT_RUN_ARGS, seed: 9, max_steps: 3 })).json() as { run_id: string; session_id: string; status: string };
    expect(started.status).toBe('running');
    const stream = await fetch(`${srv!.url}/v1/agent/runs/${started.run_id}/events`);
    const seen: Ev[] = [];
    let cancelled: Promise<Response> | undefined;
    await readSse(stream, (e) => {
      seen.push(e as Ev);
      if (e.type === 'turn_start' && !cancelled) cancelled = post(`/v1/agent/runs/${started.run_id}/cancel`, {});
    });
    const c = await (await cancelled!).json() as { status: string };
    expect(c.status).toBe('cancelled');
    expect(seen.at(-1)!.type).toBe('run_end');
    expect(readRunRecord(srv!.host.store.get(started.session_id))!.status).toBe('cancelled');

    const resumed = await post(`/v1/agent/runs/${started.run_id}/resume`, { wait: true });
    const r = await resumed.json() as { status: string; runId: string; sessionId: string; steps: number };
    expect(r.runId).toBe(started.run_id);
    expect(r.sessionId).toBe(started.session_id);
    expect(['done', 'max_steps']).toContain(r.status);
    const msgs = chatMessagesOf(srv!.host.store.get(started.session_id));
    expect(msgs.filter((m) => m.role === 'user')).toHaveLength(1); // the goal was not appended twice
    expect((await post(`/v1/agent/runs/${started.run_id}/resume`, {})).status).toBe(409);
  });

  it('refuses bad requests with named fields', async () => {
    const bad = async (body: unknown, param: string | null) => {
      const res = await post('/v1/agent/runs', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string | null } }).error.param).toBe(param);
    };
    await bad({ goal: 'x', tool_sources: ['mcp:nope'] }, 'tool_sources');
    await bad({ tool_sources: [] }, 'goal');
    await bad({ goal: 'x', max_steps: 1000 }, 'max_steps');
    await bad({ goal: 'x', session_id: 'no-such-session' }, 'session_id');
    expect((await fetch(`${srv!.url}/v1/agent/runs/01ABCDEFGHJKMNPQRSTVWXYZ00`)).status).toBe(404);
    const tools = await (await fetch(`${srv!.url}/v1/agent/tools`)).json() as { data: { selector: string; tools: string[] }[] };
    expect(tools.data.find((s) => s.selector === 'mcp:browser')!.tools).toHaveLength(4);
    expect(tools.data.find((s) => s.selector === 'skills')!.tools).toEqual(['activate_skill', 'read_skill_file']);
  });
});
