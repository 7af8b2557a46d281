/**
 * Kernel tests of a vector level this CPU lacks skip — a CPU feature is the one truly optional
 * prerequisite — and say so; the portable level's tests run on every machine.
 */

/** True (and the reason printed) when `level` is not among the `levels` this CPU runs. */
export function lacksLevel(levels: readonly string[], level: string, subject: string): boolean {
  if (levels.includes(level)) return false;
  console.log(`skipped: ${subject} at ${level}: this CPU has no ${level} (it has: ${levels.join(', ') || 'none'})`);
  return true;
}
