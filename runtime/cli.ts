import { loadCommand, loadCommands } from './commands/index.js';
import { UsageError } from './command.js';

const TOP_USAGE = `resident — resident-context inference and agent runtime

Usage: resident <command> [options]
       resident <command> --help

Commands:
`;

/** Runs the CLI with the given arguments (without `node` and the script); resolves to an exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const commands = await loadCommands();
    const width = Math.max(0, ...commands.map((c) => c.name.length));
    process.stdout.write(TOP_USAGE + commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n') + '\n');
    return name ? 0 : 2;
  }
  const command = await loadCommand(name);
  if (!command) {
    process.stderr.write(`resident: unknown command '${name}'. Run 'resident --help' for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`resident ${name}: ${err.message}\n\n${command.usage.trimEnd()}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`resident ${name}: ${e.name ?? 'Error'}: ${e.message}\n`);
    return 1;
  }
}
