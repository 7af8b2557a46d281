/**
 * Bounded nesting of parsed JSON. Every value a request or a persisted file hands to a recursive
 * walker (schema compilers, templates, canonical comparison) first passes {@link jsonDepthExceeds},
 * which walks iteratively (an explicit stack, never the call stack).
 */

/** Deepest nesting of objects/arrays any JSON input may have (request bodies, tool-call arguments). */
export const MAX_JSON_DEPTH = 128;

/**
 * True when `v` nests objects/arrays deeper than `limit` (a scalar has depth 0, `{}` and `[]` depth 1).
 * Iterative; stops at the first path that goes too deep. Cycles cannot occur in parsed JSON.
 */
export function jsonDepthExceeds(v: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d + 1 > limit) return true;
    const children = Array.isArray(x) ? x : Object.values(x as Record<string, unknown>);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return false;
}

/**
 * Nesting depth of JSON text, counted on the brackets outside strings (no parse, no recursion):
 * lets a caller refuse a deep document before `JSON.parse` builds it.
 */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return max;
        let k = q - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) max = depth;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return max;
}
