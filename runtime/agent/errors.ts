/** Named errors of the agent loop. Each carries the request field it is about (for 4xx answers). */
import { ResidentError } from '../../engine/util/resident-error.js';

/** A run request the agent refuses: unknown tool source, a session whose tools do not match… (HTTP 400). */
export class AgentRequestError extends ResidentError {
  override name = 'AgentRequestError';
  override code = 'invalid_agent_request';
  override status = 400;
  constructor(message: string, param: string | null = null) {
    super(message);
    this.param = param;
  }
}

/** No run with this id, in memory or recorded in a session (HTTP 404). */
export class AgentRunNotFoundError extends ResidentError {
  override name = 'AgentRunNotFoundError';
  override code = 'run_not_found';
  override status = 404;
  override param: string | null = 'run_id';
  constructor(readonly runId: string) {
    super(`agent run '${runId}' not found`);
  }
}

/** The run is not in a state that allows the operation (resume a running run, …) (HTTP 409). */
export class AgentRunStateError extends ResidentError {
  override name = 'AgentRunStateError';
  override code = 'run_state';
  override status = 409;
}
