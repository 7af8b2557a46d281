/** Named errors of the agent loop. Each carries the request field it is about (for 4xx answers). */

/** A run request the agent refuses: unknown tool source, a session whose tools do not match… (HTTP 400). */
export class AgentRequestError extends Error {
  override name = 'AgentRequestError';
  constructor(message: string, readonly param: string | null = null) {
    super(message);
  }
}

/** No run with this id, in memory or recorded in a session (HTTP 404). */
export class AgentRunNotFoundError extends Error {
  override name = 'AgentRunNotFoundError';
  constructor(readonly runId: string) {
    super(`agent run '${runId}' not found`);
  }
}

/** The run is not in a state that allows the operation (resume a running run, …) (HTTP 409). */
export class AgentRunStateError extends Error {
  override name = 'AgentRunStateError';
}
