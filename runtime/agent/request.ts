/**
 * The run request as JSON (HTTP body and MCP `agent_run` arguments share it): schema, validation
 * with ajv, mapping to {@link AgentRunRequest}. A bad request is an AgentRequestError naming the field.
 */
import { SchemaValidator } from '../../tools/index.js';
import { AgentRequestError } from './errors.js';
import type { AgentRunRequest } from './types.js';

/** Hard ceilings of a run's options. */
export const RUN_LIMITS = { maxSteps: 64, maxTokens: 32_768 } as const;

/** JSON Schema of a run request (snake_case). */
export const agentRunInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['goal'],
  properties: {
    goal: { type: 'string', minLength: 1, maxLength: 100_000, description: 'What the agent should achieve' },
    session_id: { type: 'string', minLength: 1, description: 'Run on this session (id or name); default a new session' },
    system: { type: 'string', maxLength: 100_000, description: 'Extra system instructions (new sessions only)' },
    tool_sources: {
      type: 'array', uniqueItems: true, maxItems: 64,
      items: { type: 'string', pattern: '^(builtin|fetch_url|files|mcp|skills|mcp:[A-Za-z0-9_.-]+)$' },
      description: "Tool sources: 'builtin', 'fetch_url', 'files', 'mcp', 'mcp:<server>', 'skills' (default: all, or the session's tools)",
    },
    max_steps: { type: 'integer', minimum: 0, maximum: RUN_LIMITS.maxSteps, description: 'Tool-executing steps before the run stops (default 8)' },
    max_tokens: { type: 'integer', minimum: 1, maximum: RUN_LIMITS.maxTokens, description: 'Completion budget of one turn (default 512)' },
    token_budget: { type: 'integer', minimum: 1, description: 'Tokens the run may prefill plus generate' },
    tool_choice: {
      anyOf: [
        { enum: ['auto', 'required'] },
        { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 256 } } },
      ],
      description: "'required' forces a tool call on every step but the final one; {name} forces a call of that tool",
    },
    final_answer: { type: 'boolean', description: 'After max steps, one more turn with tools off for the answer (default true)' },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    seed: { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 },
    enable_thinking: { type: 'boolean' },
    tool_timeout_ms: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    max_argument_chars: { type: 'integer', minimum: 1, maximum: 1_000_000, description: "Cap on every string argument of the tools' schemas (new sessions), so calls fit in max_tokens" },
  },
} as const;

/** The JSON body of a run request. */
export interface AgentRunBody {
  goal: string;
  session_id?: string;
  system?: string;
  tool_sources?: string[];
  max_steps?: number;
  max_tokens?: number;
  token_budget?: number;
  tool_choice?: 'auto' | 'required' | { name: string };
  final_answer?: boolean;
  temperature?: number;
  seed?: number;
  enable_thinking?: boolean;
  tool_timeout_ms?: number;
  max_argument_chars?: number;
}

const validator = new SchemaValidator();

/** Validates a body (extra fields listed in `allowExtra` are ignored) and maps it. Throws AgentRequestError. */
export function parseRunRequest(body: unknown, allowExtra: readonly string[] = []): AgentRunRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AgentRequestError('the run request must be a JSON object', null);
  const b = Object.fromEntries(Object.entries(body).filter(([k]) => !allowExtra.includes(k))) as AgentRunBody;
  const r = validator.validate(agentRunInputSchema as unknown as Record<string, unknown>, b);
  if (!r.ok) {
    const m = /^\/([a-z_]+)/.exec(r.message) ?? /required property '([a-z_]+)'/.exec(r.message) ?? /must NOT have additional properties '([a-z_]+)'/.exec(r.message);
    throw new AgentRequestError(`invalid run request: ${r.message}`, m ? m[1]! : null);
  }
  if (b.goal.trim() === '') throw new AgentRequestError('goal must not be blank', 'goal');
  return {
    goal: b.goal,
    ...(b.session_id !== undefined ? { sessionId: b.session_id } : {}),
    ...(b.system !== undefined ? { system: b.system } : {}),
    ...(b.tool_sources !== undefined ? { toolSources: b.tool_sources } : {}),
    ...(b.max_steps !== undefined ? { maxSteps: b.max_steps } : {}),
    ...(b.max_tokens !== undefined ? { maxTokens: b.max_tokens } : {}),
    ...(b.token_budget !== undefined ? { tokenBudget: b.token_budget } : {}),
    ...(b.tool_choice !== undefined ? { toolChoice: b.tool_choice } : {}),
    ...(b.final_answer !== undefined ? { finalAnswer: b.final_answer } : {}),
    ...(b.temperature !== undefined ? { temperature: b.temperature } : {}),
    ...(b.seed !== undefined ? { seed: b.seed } : {}),
    ...(b.enable_thinking !== undefined ? { enableThinking: b.enable_thinking } : {}),
    ...(b.tool_timeout_ms !== undefined ? { toolTimeoutMs: b.tool_timeout_ms } : {}),
    ...(b.max_argument_chars !== undefined ? { maxArgumentChars: b.max_argument_chars } : {}),
  };
}
