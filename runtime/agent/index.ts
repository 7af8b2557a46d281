/** The agent loop: tool sources, runs (start, resume, cancel), events, HTTP routes. */
export * from './errors.js';
export * from './types.js';
export { AgentRun, type AgentRunSummary } from './agent-run.js';
export { runAgentLoop, DEFAULT_MAX_STEPS, DEFAULT_TURN_TOKENS, type LoopRun } from './loop.js';
export { agentRunInputSchema, parseRunRequest, RUN_LIMITS, type AgentRunBody } from './request.js';
export { readRunRecord, nextAction, completedSteps } from './run-record.js';
export { AgentService, agentServiceFor, configureAgent, AGENT_SYSTEM_PROMPT } from './service.js';
export { agentToolsConfigFromEnv, ToolSources, type AgentToolsConfig, type ToolSourceInfo } from './tool-sources.js';
export { agentRoutes, registerAgentRoutes, runEventStream, agentHttpError } from './routes.js';
