import type { Command } from '../command.js';

/** Every CLI command, in the order `resident --help` lists them. Add new commands here. */
export async function loadCommands(): Promise<Command[]> {
  const modules = await Promise.all([
    import('./make-model.js'),
    import('./bench.js'),
  ] as Promise<{ command: Command }>[]);
  return modules.map((m) => m.command);
}
