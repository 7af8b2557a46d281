/**
 * Properties of compiled schema nodes used by the compiler's post-pass: satisfiability (one step
 * of the least fixpoint), pruning of unsatisfiable choices, and conservative disjointness
 * (for `oneOf`).
 */
import { ceilDiv } from './decimal.js';
import { deref, type Node, type NumberNode, type ObjectNode } from './schema-node.js';
import { deepEqual } from './schema-flat.js';
import { stringLive } from '../match/string-matcher.js';
import { literalAccepts } from '../match/value-matcher.js';

/** Is node `n` satisfiable, given which nodes are (`isSat`)? One step of the fixpoint. */
export function satisfiable(n: Node, isSat: (n: Node) => boolean): boolean {
  switch (n.kind) {
    case 'ref':
      return isSat(n.target!);
    case 'never':
      return false;
    case 'literal':
      return n.values.length > 0;
    case 'seq':
      return n.parts.every((p) => p instanceof Uint8Array || isSat(p));
    case 'string':
      return stringLive(n);
    case 'raw':
      return stringLive(n.str);
    case 'xmlargs':
      return isSat(n.obj);
    case 'number':
      return numberFeasible(n);
    case 'union':
      return n.alts.some(isSat);
    case 'array': {
      if (n.minItems > n.maxItems) return false;
      for (let i = 0; i < n.minItems; i++) {
        const it = i < n.prefix.length ? n.prefix[i] : n.items;
        if (!it || !isSat(it)) return false;
      }
      return true;
    }
    case 'object': {
      if (n.required.length > n.maxProps || n.minProps > n.maxProps) return false;
      for (const i of n.required) if (!isSat(n.props.get(n.names[i])!) || !keyAllowed(n, n.names[i])) return false;
      if (n.minProps > n.required.length) {
        const open = n.additional && isSat(n.additional);
        const extra = n.names.filter((k, i) => !n.required.includes(i) && isSat(n.props.get(k)!) && keyAllowed(n, k)).length;
        if (!open && n.required.length + extra < n.minProps) return false;
      }
      return true;
    }
  }
}

/** Removes unsatisfiable choices from `n` (unsatisfiable targets become `never`). */
export function prune(n: Node, isSat: (n: Node) => boolean, never: Node): void {
  if (n.kind === 'union') n.alts = n.alts.filter(isSat);
  else if (n.kind === 'ref' && !isSat(n.target!)) n.target = never;
  else if (n.kind === 'object') {
    for (const [k, v] of n.props) if (!isSat(v)) n.props.set(k, never);
    if (n.additional && !isSat(n.additional)) n.additional = null;
    n.patterns = n.patterns.map((p) => (isSat(p.node) ? p : { ...p, node: never }));
  } else if (n.kind === 'array') {
    const cut = n.prefix.findIndex((p) => !isSat(p));
    if (cut >= 0) n.maxItems = Math.min(n.maxItems, cut);
    if (n.items && !isSat(n.items)) {
      n.items = null;
    }
    if (!n.items) n.maxItems = Math.min(n.maxItems, n.prefix.length);
  }
}

function keyAllowed(n: ObjectNode, key: string): boolean {
  return n.keyNode === null || literalAccepts(n.keyNode, key);
}

/** True when some value satisfies the number node's bounds and multipleOf. */
export function numberFeasible(n: NumberNode): boolean {
  if (n.lo === null || n.hi === null) return true;
  if (n.mult === null) return n.lo < n.hi || (n.lo === n.hi && !n.loExcl && !n.hiExcl);
  return ceilDiv(n.lo, n.mult) * n.mult <= n.hi;
}

/** Conservative disjointness of two nodes (true only when no value matches both). */
export function disjoint(a: Node, b: Node, depth: number): boolean {
  a = deref(a);
  b = deref(b);
  if (a.kind === 'never' || b.kind === 'never') return true;
  if (depth <= 0) return false;
  if (a.kind === 'union') return a.alts.every((x) => disjoint(x, b, depth));
  if (b.kind === 'union') return b.alts.every((x) => disjoint(a, x, depth));
  if (a.kind === 'literal' && b.kind === 'literal') return !a.values.some((v) => b.values.some((w) => deepEqual(v, w)));
  if (a.kind === 'literal') return !a.values.some((v) => literalAccepts(b, v));
  if (b.kind === 'literal') return disjoint(b, a, depth);
  if (a.kind !== b.kind) return true;
  if (a.kind === 'number' && b.kind === 'number') {
    const ra = toRange(a), rb = toRange(b);
    return (ra.hi !== null && rb.lo !== null && ra.hi < rb.lo) || (rb.hi !== null && ra.lo !== null && rb.hi < ra.lo);
  }
  if (a.kind === 'object' && b.kind === 'object') {
    for (const i of a.required) {
      const k = a.names[i];
      const vb = b.valueFor(k);
      if (!vb) return true;
      const va = a.props.get(k)!;
      if (b.required.some((j) => b.names[j] === k) && disjoint(va, vb, depth - 1)) return true;
    }
    for (const j of b.required) if (!a.valueFor(b.names[j])) return true;
    return false;
  }
  if (a.kind === 'array' && b.kind === 'array') {
    if (a.minItems > b.maxItems || b.minItems > a.maxItems) return true;
    const n = Math.min(a.minItems, b.minItems);
    for (let i = 0; i < Math.max(n, 1); i++) {
      if (i >= Math.max(a.minItems, b.minItems)) break;
      const x = i < a.prefix.length ? a.prefix[i] : a.items;
      const y = i < b.prefix.length ? b.prefix[i] : b.items;
      if (x && y && disjoint(x, y, depth - 1)) return true;
    }
    return false;
  }
  return false;
}

function toRange(n: NumberNode): { lo: number | null; hi: number | null } {
  const f = (v: bigint | null) => (v === null ? null : Number(v) / 10 ** n.scale);
  return { lo: f(n.lo), hi: f(n.hi) };
}
