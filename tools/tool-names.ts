/** Tool-name rules: OpenAI function names `^[a-zA-Z0-9_-]{1,64}$`, `<namespace>__<tool>` for sources. */
import { createHash } from 'node:crypto';

/** The pattern every exposed tool name matches. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** Separator between namespace and tool name. */
export const NAMESPACE_SEPARATOR = '__';

const MAX = 64;

/** True when `name` is a valid exposed tool name. */
export function isValidToolName(name: string): boolean {
  return TOOL_NAME_PATTERN.test(name);
}

/** Replaces characters outside `[a-zA-Z0-9_-]` with `_`; empty input becomes `tool`. */
export function sanitizeNamePart(part: string): string {
  const s = part.replace(/[^a-zA-Z0-9_-]/g, '_');
  return s.length > 0 ? s : 'tool';
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** Cuts `name` to 64 chars, keeping it unique per `original` with a hash suffix when cut or altered. */
function fit(name: string, original: string, altered: boolean): string {
  if (name.length <= MAX && !altered) return name;
  const suffix = `_${shortHash(original)}`;
  return name.length + suffix.length <= MAX ? name + suffix : name.slice(0, MAX - suffix.length) + suffix;
}

/**
 * `namespace__name`, sanitized and at most 64 chars. A sanitized or shortened name gets an 8-hex hash of
 * the original pair so different originals do not collide.
 */
export function namespacedToolName(namespace: string, name: string): string {
  const ns = sanitizeNamePart(namespace);
  const n = sanitizeNamePart(name);
  const joined = `${ns}${NAMESPACE_SEPARATOR}${n}`;
  const altered = ns !== namespace || n !== name;
  return fit(joined, `${namespace}\u0000${name}`, altered);
}

/** `base` if not in `taken`, else `base_2`, `base_3`, ... (kept within 64 chars). */
export function uniqueToolName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const suffix = `_${i}`;
    const candidate = base.slice(0, MAX - suffix.length) + suffix;
    if (!taken.has(candidate)) return candidate;
  }
}
