/** The `agent_run` tool: runs the agent loop to its end, reporting each event as progress; cancel stops it. */
import { parseRunRequest, agentRunInputSchema } from '../agent/request.js';
import { agentServiceFor } from '../agent/service.js';
import type { AgentEvent } from '../agent/types.js';
import type { Host } from '../host/host.js';
import type { McpToolDef } from './tool-def.js';
import { LOCAL_TENANT, type Tenant } from '../tenants/tenant.js';

/** One line describing an event (progress message). */
export function describeEvent(e: AgentEvent): string | undefined {
  switch (e.type) {
    case 'run_start': return `run ${e.runId} on session ${e.sessionId}${e.resumed ? ' (resumed)' : ''}: ${e.tools.length} tools`;
    case 'turn_start': return `step ${e.step}: turn started (${e.prefilled} tokens prefilled, ${e.reused} reused)`;
    case 'tool_call': return `step ${e.step}: call ${e.name} ${e.arguments.slice(0, 200)}`;
    case 'tool_call_error': return `step ${e.step}: malformed tool call: ${e.message}`;
    case 'turn_end': return `step ${e.step}: turn ended (${e.finish}, ${e.completionTokens} tokens)`;
    case 'tool_result': return `step ${e.step}: ${e.name} → ${e.ok && !e.isError ? 'ok' : `error${e.error ? `: ${e.error}` : ''}`} (${e.durationMs} ms)`;
    case 'step_end': return `step ${e.step} done: ${e.toolCalls} tool calls`;
    case 'run_end': return `run ended: ${e.result.status}`;
    default: return undefined;
  }
}

export function agentTool(host: Host, t: Tenant = LOCAL_TENANT): McpToolDef {
  return {
    name: 'agent_run',
    description:
      'Run the agent loop toward a goal on a session (new or existing): the model calls tools (built-ins, MCP servers, skills) ' +
      'until it answers, max_steps or the token budget. Returns the final answer, the tool calls made and token counts. ' +
      'Progress notifications report every step; cancelling the request cancels the run.',
    inputSchema: agentRunInputSchema as unknown as Record<string, unknown>,
    async run(args, ctx) {
      const svc = agentServiceFor(host);
      const run = await svc.start(parseRunRequest(args), t);
      const onAbort = () => run.cancel();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      if (ctx.signal.aborted) run.cancel();
      try {
        let n = 0;
        for await (const e of run.subscribe()) {
          const m = describeEvent(e);
          if (m) ctx.progress.report(++n, { message: m, force: true });
        }
        const r = await run.done;
        return {
          run_id: r.runId, session_id: r.sessionId, status: r.status, answer: r.answer, steps: r.steps,
          tool_calls: r.toolCalls, usage: r.usage, ...(r.error ? { error: r.error } : {}), ...(r.warnings.length ? { warnings: r.warnings } : {}),
        };
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
