/**
 * Byte stepping of a JSON number for a `NumberNode`, with bounds and multipleOf enforced on
 * prefixes: a digit is allowed only if some completion of the new prefix lies in range (and is
 * a multiple). Exponents are allowed only for unconstrained non-integer numbers.
 */
import { ceilDiv } from '../schema/decimal.js';
import type { NumberNode } from '../schema/schema-node.js';

/** Number text so far: sign, integer digits, fraction digits (null = no dot), exponent (null = none). */
export interface NumFrame {
  neg: boolean;
  int: string;
  frac: string | null;
  exp: string | null;
}

const MAX_INT_DIGITS = 21;
const MAX_FRAC_DIGITS = 24;
const MAX_EXP_DIGITS = 3;

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

function unconstrained(n: NumberNode): boolean {
  return n.lo === null && n.hi === null && (n.mult === null || (n.mult === 1n && n.scale === 0));
}

function allowExp(n: NumberNode): boolean {
  return !n.integer && n.mult === null && n.lo === null && n.hi === null;
}

/** Successor after byte `b`, or null. */
export function numStep(n: NumberNode, f: NumFrame, b: number): NumFrame | null {
  if (f.exp !== null) {
    if (f.exp === '' && (b === 0x2b || b === 0x2d)) return { ...f, exp: String.fromCharCode(b) };
    const digits = f.exp.replace(/[+-]/, '');
    if (isDigit(b) && digits.length < MAX_EXP_DIGITS) return { ...f, exp: f.exp + String.fromCharCode(b) };
    return null;
  }
  if (f.frac !== null) {
    if (isDigit(b)) {
      const maxFrac = n.mult !== null ? n.scale : MAX_FRAC_DIGITS;
      if (f.frac.length >= maxFrac) return null;
      const next = { ...f, frac: f.frac + String.fromCharCode(b) };
      return feasible(n, next) ? next : null;
    }
    if ((b === 0x65 || b === 0x45) && f.frac.length > 0 && allowExp(n)) return { ...f, exp: '' };
    return null;
  }
  if (f.int === '') {
    if (b === 0x2d && !f.neg) {
      const next = { ...f, neg: true };
      return feasible(n, next) ? next : null;
    }
    if (!isDigit(b)) return null;
    const next = { ...f, int: String.fromCharCode(b) };
    return feasible(n, next) ? next : null;
  }
  if (isDigit(b)) {
    if (f.int === '0' || f.int.length >= MAX_INT_DIGITS) return null;
    const next = { ...f, int: f.int + String.fromCharCode(b) };
    return feasible(n, next) ? next : null;
  }
  if (b === 0x2e && !n.integer && (n.mult === null || n.scale > 0)) {
    const next = { ...f, frac: '' };
    return feasible(n, next) ? next : null;
  }
  if ((b === 0x65 || b === 0x45) && allowExp(n)) return { ...f, exp: '' };
  return null;
}

/** True when the text so far is a complete number satisfying the node. */
export function numComplete(n: NumberNode, f: NumFrame): boolean {
  if (f.int === '' || f.frac === '' || (f.exp !== null && !/\d/.test(f.exp))) return false;
  if (unconstrained(n)) return true;
  const frac = f.frac ?? '';
  const T = n.mult !== null ? n.scale : Math.max(n.scale, frac.length);
  let v = BigInt(f.int + frac) * 10n ** BigInt(T - frac.length);
  if (f.neg) v = -v;
  const k = 10n ** BigInt(T - n.scale);
  if (n.lo !== null && (n.loExcl ? v <= n.lo * k : v < n.lo * k)) return false;
  if (n.hi !== null && (n.hiExcl ? v >= n.hi * k : v > n.hi * k)) return false;
  return n.mult === null || v % n.mult === 0n;
}

/** Is there a completion of prefix `f` that satisfies the node? */
function feasible(n: NumberNode, f: NumFrame): boolean {
  if (unconstrained(n)) return true;
  const frac = f.frac ?? '';
  const discrete = n.mult !== null;
  const T = discrete ? n.scale : Math.max(n.scale, frac.length) + 1;
  const k = 10n ** BigInt(T - n.scale);
  const L = n.lo === null ? null : n.lo * k + (n.loExcl ? 1n : 0n);
  const H = n.hi === null ? null : n.hi * k - (n.hiExcl ? 1n : 0n);
  const M = n.mult ?? 1n;
  const check = (a: bigint, b: bigint): boolean => {
    // magnitude interval [a, b] → signed interval, intersected with [L, H], holds a multiple of M?
    let lo = f.neg ? -b : a;
    let hi = f.neg ? -a : b;
    if (L !== null && L > lo) lo = L;
    if (H !== null && H < hi) hi = H;
    return lo <= hi && ceilDiv(lo, M) * M <= hi;
  };
  if (f.int === '') {
    // only the sign so far
    if (!f.neg) return true;
    return L === null ? H === null || true : check(0n, -L);
  }
  if (f.frac !== null) {
    const scale = 10n ** BigInt(T - frac.length);
    const df = BigInt(f.int + frac);
    return check(df * scale, (df + 1n) * scale - 1n);
  }
  const D = BigInt(f.int);
  if (f.int === '0') return check(0n, 10n ** BigInt(T) - 1n);
  // the number may grow by k more integer digits
  const far = f.neg ? (L === null ? null : -L) : H;
  for (let extra = 0; extra <= 40; extra++) {
    const unit = 10n ** BigInt(extra + T);
    const a = D * unit;
    if (far !== null && a > far) return false;
    if (f.int.length + extra > MAX_INT_DIGITS) return false;
    if (check(a, (D + 1n) * unit - 1n)) return true;
  }
  return false;
}
