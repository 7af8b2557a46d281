/**
 * Structural signatures of compiled schema nodes: two nodes with the same signature match
 * exactly the same byte strings with the same matcher behavior, whatever grammar they belong
 * to, so per-node results can be shared between grammars. A signature covers every field the
 * matcher reads (references are followed; cycles are numbered by first visit; DFAs by object
 * identity, see `dfaId`). Computed after compilation, so it sees the final node graph.
 */
import type { ByteDfa } from '../regex/byte-dfa.js';
import type { Node } from './schema-node.js';

/** Nodes visited at most per signature; larger graphs get none (null). */
const MAX_SIG_NODES = 200;

const dfaIds = new WeakMap<ByteDfa, number>();
let nextDfaId = 0;

/** A number identifying `d` (one DFA object per pattern source while it stays cached). */
export function dfaId(d: ByteDfa): number {
  let id = dfaIds.get(d);
  if (id === undefined) dfaIds.set(d, (id = nextDfaId++));
  return id;
}

const sigs = new WeakMap<Node, string | null>();

/** The structural signature of `n` and everything reachable from it, or null when too large. */
export function nodeSig(n: Node): string | null {
  let s = sigs.get(n);
  if (s === undefined) {
    const seen = new Map<Node, number>();
    try {
      s = sig(n, seen);
    } catch (e) {
      if (e !== TOO_LARGE) throw e;
      s = null;
    }
    sigs.set(n, s);
  }
  return s;
}

const TOO_LARGE = new Error('signature too large');

function sig(n0: Node, seen: Map<Node, number>): string {
  let n = n0;
  while (n.kind === 'ref') n = n.target!;
  const at = seen.get(n);
  if (at !== undefined) return `#${at}`;
  if (seen.size >= MAX_SIG_NODES) throw TOO_LARGE;
  seen.set(n, seen.size);
  const r = (x: Node | null) => (x ? sig(x, seen) : '-');
  switch (n.kind) {
    case 'never':
      return 'X';
    case 'literal':
      return `L${JSON.stringify(n.values.map((v) => JSON.stringify(v)))}`;
    case 'string':
      return `S${n.minLength},${n.maxLength},${n.dfas.map(dfaId).join('.')}`;
    case 'number':
      return `N${n.integer},${n.scale},${n.lo},${n.loExcl},${n.hi},${n.hiExcl},${n.mult}`;
    case 'array':
      return `A${n.minItems},${n.maxItems},${r(n.items)}[${n.prefix.map(r).join(',')}]`;
    case 'union':
      return `U(${n.alts.map(r).join(',')})`;
    case 'raw':
      return `R${r(n.str)}`;
    case 'xmlargs':
      return `W#${n.id}`; // its free names' values depend on sibling alternatives: never shared
    case 'seq':
      return `Q${n.tight ? 't' : ''}(${n.parts.map((p) => (p instanceof Uint8Array ? `b${Array.from(p).join('.')}` : r(p))).join(',')})`;
    case 'object': {
      const props = n.names.map((k) => `${JSON.stringify(k)}:${r(n.props.get(k)!)}`).join(',');
      const pats = n.patterns.map((p) => `${dfaId(p.dfa)}/${JSON.stringify(p.re.source)}/${p.re.flags}:${r(p.node)}`).join(',');
      return `O${n.minProps},${n.maxProps},${n.closed},[${n.required.join(',')}]{${props}}P{${pats}}A${r(n.additional)}K${r(n.keyNode)}k${r(n.keyString)}`;
    }
  }
}
