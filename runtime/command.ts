/** A CLI command: `resident <name> [options]`. Every command answers `--help`. */
import { ResidentError } from '../engine/util/resident-error.js';
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full usage text printed by `resident <name> --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends ResidentError {
  override name = 'UsageError';
  override code = 'usage_error';
  override status = 400;
}
