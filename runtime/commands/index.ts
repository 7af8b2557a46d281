import type { Command } from '../command.js';

type CommandModule = { command: Command };

/**
 * Every CLI command by name, loaded lazily (running one command imports only its module), in the order
 * `resident --help` lists them. Add a line per new command: `'name': () => import('./name.js'),`.
 */
export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  'serve': () => import('./serve.js'),
  'mcp': () => import('./mcp.js'),
  'make-model': () => import('./make-model.js'),
  'gguf': () => import('./gguf.js'),
  'score': () => import('./score.js'),
  'bench': () => import('./bench.js'),
  'bench-grammar': () => import('./bench-grammar.js'),
};

/** Loads one command by name; undefined when there is none. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return load ? (await load()).command : undefined;
}

/** Loads every command (for the command list). */
export async function loadCommands(): Promise<Command[]> {
  return Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).command));
}
