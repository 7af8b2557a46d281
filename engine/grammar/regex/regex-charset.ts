/**
 * Code point sets for the regular-expression parser: `CharSet` (sorted disjoint inclusive
 * ranges), normalization, complement, and the predefined classes (`\\d`, `\\w`, `\\s`, `.`).
 */

/** Sorted, disjoint, non-adjacent inclusive code point ranges `[lo0, hi0, lo1, hi1, …]`. */
export type CharSet = number[];

export const MAX_CP = 0x10ffff;
export const ANY: CharSet = [0, MAX_CP];

/** Normalizes a list of ranges (any order, overlapping) into a CharSet. */
export function normSet(ranges: number[]): CharSet {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i], ranges[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

/** Complement of a CharSet within [0, MAX_CP]. */
export function negateSet(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i] > next) out.push(next, set[i] - 1);
    next = set[i + 1] + 1;
  }
  if (next <= MAX_CP) out.push(next, MAX_CP);
  return out;
}

export const DIGIT = [0x30, 0x39];
export const WORD = normSet([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
export const SPACE = normSet([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f,
  0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
export const DOT = negateSet(normSet([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]));
