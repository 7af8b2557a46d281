/** The shape of one tool this MCP server offers. */
import { ResidentError } from '../../engine/util/resident-error.js';
import type { McpCallContext } from './progress.js';

export interface McpToolDef {
  name: string;
  title?: string;
  description: string;
  /** JSON Schema of the arguments (checked with ajv before `run`). */
  inputSchema: Record<string, unknown>;
  /** Returns the result object (sent as structuredContent and as JSON text); throws for errors. */
  run(args: Record<string, unknown>, ctx: McpCallContext): Promise<Record<string, unknown>>;
}

/** A bad argument combination that the schema cannot express (reported as an error result). */
export class McpToolArgumentError extends ResidentError {
  override name = 'McpToolArgumentError';
  override code = 'invalid_tool_arguments';
  override status = 400;
}
