/**
 * Byte stepping inside a JSON string body for a `StringNode`: escapes, UTF-8 validity, code
 * point count (min/maxLength as a counter) and the node's pattern/format DFAs on the decoded
 * content. The closing quote is handled by the caller through `strClose`.
 */
import type { StringNode } from '../schema/schema-node.js';
import { reachLiveAt } from '../regex/string-reach.js';

/**
 * Inner string state. `esc`: 0 plain, 1 after `\`, 2..5 = (esc-2) hex digits of `\u` read.
 * `u`: UTF-8 decoder state (0 = at a character boundary). `count`: code points so far (capped).
 * `d`: one state per DFA of the node. `emitted`: decoded bytes (latin1) the last step completed.
 */
export interface StrInner {
  esc: number;
  hex: number;
  u: number;
  count: number;
  d: number[];
  emitted?: string;
  key?: string;
}

/** UTF-8 decoder: next state after byte b from state u, or -1. */
export function utf8Step(u: number, b: number): number {
  switch (u) {
    case 0:
      if (b < 0x80) return 0;
      if (b >= 0xc2 && b <= 0xdf) return 1;
      if (b === 0xe0) return 4;
      if (b === 0xed) return 5;
      if (b >= 0xe1 && b <= 0xef) return 2;
      if (b === 0xf0) return 6;
      if (b >= 0xf1 && b <= 0xf3) return 3;
      if (b === 0xf4) return 7;
      return -1;
    case 1:
      return b >= 0x80 && b <= 0xbf ? 0 : -1;
    case 2:
      return b >= 0x80 && b <= 0xbf ? 1 : -1;
    case 3:
      return b >= 0x80 && b <= 0xbf ? 2 : -1;
    case 4:
      return b >= 0xa0 && b <= 0xbf ? 1 : -1;
    case 5:
      return b >= 0x80 && b <= 0x9f ? 1 : -1;
    case 6:
      return b >= 0x90 && b <= 0xbf ? 2 : -1;
    case 7:
      return b >= 0x80 && b <= 0x8f ? 2 : -1;
  }
  return -1;
}

export function strInit(n: StringNode): StrInner {
  return { esc: 0, hex: 0, u: 0, count: 0, d: n.dfas.map(() => 0) };
}

/** Stable key of the inner state (without `emitted`). */
export function strKey(s: StrInner): string {
  if (s.key === undefined) s.key = `${s.esc}${s.esc > 1 ? s.hex : ''},${s.u},${s.count},${s.d.join('.')}`;
  return s.key;
}

/** Count cap: counts beyond it behave the same. */
function cap(n: StringNode): number {
  return n.maxLength !== Infinity ? n.maxLength + 1 : n.minLength;
}

const SIMPLE_ESC: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };
const HEX = (b: number) => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);

function needsJoint(n: StringNode): boolean {
  return n.dfas.length > 1 || (n.dfas.length === 1 && (n.minLength > 0 || n.maxLength !== Infinity));
}

/** Feeds one whole code point's bytes; null if not allowed. */
function feedChar(n: StringNode, s: StrInner, bytes: number[]): StrInner | null {
  const count = Math.min(s.count + 1, cap(n));
  if (s.count + 1 > n.maxLength) return null;
  let d = s.d;
  if (n.dfas.length) {
    d = d.slice();
    for (let k = 0; k < d.length; k++) {
      for (const b of bytes) if ((d[k] = n.dfas[k].step(d[k], b)) < 0) return null;
    }
  }
  const next: StrInner = { esc: 0, hex: 0, u: 0, count, d, emitted: String.fromCharCode(...bytes) };
  if (needsJoint(n) && !jointLive(n, next)) return null;
  return next;
}

function cpBytes(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}

/** Control bytes allowed in raw text (tab, LF, CR). */
const RAW_CONTROL = (b: number) => b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * Next inner state after content byte `b` (not the closing quote), or null. `raw`: the content
 * of raw text (`RawNode`), where the quote and the backslash are plain bytes and tab, LF, CR are allowed.
 */
export function strStep(n: StringNode, s: StrInner, b: number, raw = false): StrInner | null {
  if (raw) {
    if (b < 0x20 && !RAW_CONTROL(b)) return null;
    return plainStep(n, s, b);
  }
  if (s.esc === 1) {
    const c = SIMPLE_ESC[b];
    if (c !== undefined) return feedChar(n, s, [c]);
    if (b === 0x75 && n.dfas.length === 0) return { ...s, key: undefined, esc: 2, hex: 0, emitted: '' };
    return null;
  }
  if (s.esc >= 2) {
    const v = HEX(b);
    if (v < 0) return null;
    const hex = s.hex * 16 + v;
    const esc = s.esc + 1;
    if (esc === 4 && hex >= 0xd8 && hex <= 0xdf) return null; // no surrogates
    if (esc === 6) return feedChar(n, s, cpBytes(hex));
    return { ...s, key: undefined, esc, hex, emitted: '' };
  }
  if (b < 0x20 || b === 0x22) return null;
  if (b === 0x5c) {
    if (s.u !== 0 || s.count + 1 > n.maxLength) return null;
    if (n.dfas.length && !Object.values(SIMPLE_ESC).some((c) => feedChar(n, s, [c]))) return null;
    return { ...s, key: undefined, esc: 1, emitted: '' };
  }
  return plainStep(n, s, b);
}

/** A content byte taken as itself (no escape in progress). */
function plainStep(n: StringNode, s: StrInner, b: number): StrInner | null {
  const u = utf8Step(s.u, b);
  if (u < 0) return null;
  let count = s.count;
  if (s.u === 0) {
    if (count + 1 > n.maxLength) return null;
    count = Math.min(count + 1, cap(n));
  }
  let d = s.d;
  if (n.dfas.length) {
    d = d.slice();
    for (let k = 0; k < d.length; k++) if ((d[k] = n.dfas[k].step(d[k], b)) < 0) return null;
  }
  const next: StrInner = { esc: 0, hex: 0, u, count, d, emitted: String.fromCharCode(b) };
  if (needsJoint(n) && !jointLive(n, next)) return null;
  return next;
}

/** True when the string may end here (closing quote allowed). */
export function strClose(n: StringNode, s: StrInner): boolean {
  if (s.esc !== 0 || s.u !== 0 || s.count < n.minLength) return false;
  for (let k = 0; k < s.d.length; k++) if (!n.dfas[k].accepting[s.d[k]]) return false;
  return true;
}

const liveMemo = new WeakMap<StringNode, Map<string, boolean>>();
const JOINT_LIMIT = 50_000;

/**
 * Can the string still be closed from `s` (all DFAs accepting, length in bounds at the same
 * time)? Breadth-first search over (DFA states, count, utf8 state) using raw content bytes.
 */
function jointLive(n: StringNode, s: StrInner): boolean {
  if (n.dfas.length === 1) return reachLive(n, s);
  let memo = liveMemo.get(n);
  if (!memo) liveMemo.set(n, (memo = new Map()));
  const key = strKey(s);
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const seen = new Set<string>([key]);
  const queue: StrInner[] = [s];
  let live = false;
  for (let qi = 0; qi < queue.length && seen.size < JOINT_LIMIT; qi++) {
    const cur = queue[qi];
    if (strClose(n, cur)) {
      live = true;
      break;
    }
    for (let b = 0x20; b < 0x100; b++) {
      if (b === 0x22 || b === 0x5c) continue;
      const u = utf8Step(cur.u, b);
      if (u < 0) continue;
      let count = cur.count;
      if (cur.u === 0) {
        if (count + 1 > n.maxLength) continue;
        count = Math.min(count + 1, cap(n));
      }
      const d = cur.d.slice();
      let dead = false;
      for (let k = 0; k < d.length && !dead; k++) dead = (d[k] = n.dfas[k].step(d[k], b)) < 0;
      if (dead) continue;
      const nx: StrInner = { esc: 0, hex: 0, u, count, d };
      const nk = strKey(nx);
      if (!seen.has(nk)) seen.add(nk), queue.push(nx);
    }
  }
  if (seen.size >= JOINT_LIMIT) live = true; // too large to decide: assume live
  memo.set(key, live);
  return live;
}

/** True when some string satisfies the node (compile-time check). */
export function stringLive(n: StringNode): boolean {
  if (n.minLength > n.maxLength) return false;
  return needsJoint(n) ? jointLive(n, strInit(n)) : true;
}

function reachLive(n: StringNode, s: StrInner): boolean {
  return reachLiveAt(n, s.d[0], s.count);
}
