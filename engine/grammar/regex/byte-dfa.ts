/**
 * Regular expressions over UTF-8 bytes: Thompson NFA built from a `RegexNode` (code point sets
 * become UTF-8 byte-range sequences), determinized lazily. DFA state 0 is the start; -1 is dead.
 * Only live NFA states (from which an accepting state is reachable) are kept in a DFA state,
 * so a state that is not -1 can always be completed to a match ("no dead ends").
 */
import { RegexCompileError } from '../errors.js';
import { parseRegex, type CharSet, type RegexNode } from './regex.js';

const MAX_NFA_STATES = 60_000;

/** UTF-8 byte-range sequences covering the code points of `[lo, hi]` (surrogates excluded). */
export function utf8Sequences(lo: number, hi: number): [number, number][][] {
  const out: [number, number][][] = [];
  const push = (a: number, b: number) => {
    // split at encoded-length boundaries and around surrogates
    if (a <= 0xdfff && b >= 0xd800) {
      if (a < 0xd800) push(a, 0xd7ff);
      if (b > 0xdfff) push(0xe000, b);
      return;
    }
    for (const bound of [0x7f, 0x7ff, 0xffff]) {
      if (a <= bound && b > bound) {
        push(a, bound);
        push(bound + 1, b);
        return;
      }
    }
    split(a, b);
  };
  const split = (a: number, b: number) => {
    const n = a <= 0x7f ? 1 : a <= 0x7ff ? 2 : a <= 0xffff ? 3 : 4;
    for (let i = 1; i < n; i++) {
      const m = (1 << (6 * i)) - 1;
      if ((a & ~m) !== (b & ~m)) {
        if ((a & m) !== 0) {
          split(a, a | m);
          split((a | m) + 1, b);
          return;
        }
        if ((b & m) !== m) {
          split(a, (b & ~m) - 1);
          split(b & ~m, b);
          return;
        }
      }
    }
    const ea = encode(a);
    const eb = encode(b);
    out.push(ea.map((x, i) => [x, eb[i]] as [number, number]));
  };
  push(lo, hi);
  return out;
}

function encode(cp: number): number[] {
  if (cp <= 0x7f) return [cp];
  if (cp <= 0x7ff) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp <= 0xffff) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}

/** NFA: per state, epsilon targets and byte-range edges `[lo, hi, target]`. */
class Nfa {
  eps: number[][] = [];
  edges: number[][] = [];
  constructor(private readonly pattern: string) {}
  add(): number {
    if (this.eps.length >= MAX_NFA_STATES) throw new RegexCompileError('regular expression too large', this.pattern);
    this.eps.push([]);
    this.edges.push([]);
    return this.eps.length - 1;
  }
  /** Builds `node` between fresh states; returns [start, end]. */
  build(node: RegexNode): [number, number] {
    switch (node.t) {
      case 'set':
        return this.buildSet(node.set);
      case 'cat': {
        const s = this.add();
        let cur = s;
        for (const it of node.items) {
          const [a, b] = this.build(it);
          this.eps[cur].push(a);
          cur = b;
        }
        return [s, cur];
      }
      case 'alt': {
        const s = this.add();
        const e = this.add();
        for (const it of node.items) {
          const [a, b] = this.build(it);
          this.eps[s].push(a);
          this.eps[b].push(e);
        }
        return [s, e];
      }
      case 'rep': {
        const s = this.add();
        let cur = s;
        for (let k = 0; k < node.min; k++) {
          const [a, b] = this.build(node.item);
          this.eps[cur].push(a);
          cur = b;
        }
        if (node.max === Infinity) {
          const [a, b] = this.build(node.item);
          this.eps[cur].push(a);
          this.eps[b].push(cur);
          return [s, cur];
        }
        const e = this.add();
        this.eps[cur].push(e);
        for (let k = node.min; k < node.max; k++) {
          const [a, b] = this.build(node.item);
          this.eps[cur].push(a);
          this.eps[b].push(e);
          cur = b;
        }
        return [s, e];
      }
    }
  }
  private buildSet(set: CharSet): [number, number] {
    const s = this.add();
    const e = this.add();
    for (let i = 0; i < set.length; i += 2) {
      for (const seq of utf8Sequences(set[i], set[i + 1])) {
        let cur = s;
        seq.forEach(([lo, hi], k) => {
          const next = k === seq.length - 1 ? e : this.add();
          this.edges[cur].push(lo, hi, next);
          cur = next;
        });
      }
    }
    return [s, e];
  }
}

/**
 * A DFA given as whole tables: `rows[d][b]` is the next state (-1 dead), `accepting[d]` 1 for a
 * match. Every state must be able to reach an accepting one through valid UTF-8 (the "no dead
 * ends" invariant of `ByteDfa`).
 */
export interface DfaTable {
  rows: Int32Array[];
  accepting: number[];
}

/** A lazily determinized byte DFA with liveness pruning (or a complete table, see `ByteDfa.fromTable`). */
export class ByteDfa {
  private readonly nfa: Nfa;
  private readonly accept: number;
  private readonly live: Uint8Array;
  private readonly sets: Int32Array[] = [];
  private readonly ids = new Map<string, number>();
  private readonly trans: Int32Array[] = [];
  /** `accepting[d] === 1` when DFA state d is a complete match. */
  readonly accepting: number[] = [];

  /** A DFA over complete tables (content filters that are not regular expressions); `source` names it. */
  static fromTable(table: DfaTable, source: string): ByteDfa {
    const d = new ByteDfa({ t: 'set', set: [] }, source, true);
    for (let q = 0; q < table.rows.length; q++) {
      d.trans.push(table.rows[q].slice());
      d.accepting.push(table.accepting[q]);
    }
    return d;
  }

  /** Every state is built (a table DFA): `size`, `accepting` and rows cover the whole automaton. */
  readonly complete: boolean;

  constructor(node: RegexNode, readonly source: string, tableOnly = false) {
    this.nfa = new Nfa(source);
    this.complete = tableOnly;
    if (tableOnly) {
      this.accept = -1;
      this.live = new Uint8Array(0);
      return;
    }
    const [s, e] = this.nfa.build(node);
    this.accept = e;
    // liveness: reverse reachability from the accepting state
    const n = this.nfa.eps.length;
    const rev: number[][] = Array.from({ length: n }, () => []);
    for (let q = 0; q < n; q++) {
      for (const t of this.nfa.eps[q]) rev[t].push(q);
      const ed = this.nfa.edges[q];
      for (let k = 0; k < ed.length; k += 3) rev[ed[k + 2]].push(q);
    }
    this.live = new Uint8Array(n);
    const stack = [e];
    this.live[e] = 1;
    while (stack.length) {
      const q = stack.pop()!;
      for (const p of rev[q]) if (!this.live[p]) (this.live[p] = 1), stack.push(p);
    }
    if (this.intern(this.closure([s])) !== 0) throw new RegexCompileError('pattern matches no string', source);
  }

  private closure(seeds: number[]): Int32Array {
    const seen = new Set<number>();
    const stack = seeds.filter((q) => this.live[q]);
    for (const q of stack) seen.add(q);
    while (stack.length) {
      const q = stack.pop()!;
      for (const t of this.nfa.eps[q]) if (this.live[t] && !seen.has(t)) seen.add(t), stack.push(t);
    }
    // keep only states with byte edges or the accept state (others are pure epsilon)
    const kept = [...seen].filter((q) => q === this.accept || this.nfa.edges[q].length > 0).sort((a, b) => a - b);
    return Int32Array.from(kept);
  }

  private intern(set: Int32Array): number {
    if (set.length === 0) return -1;
    const key = set.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.ids.set(key, id);
      this.sets.push(set);
      this.trans.push(new Int32Array(256).fill(-2));
      this.accepting.push(set.includes(this.accept) ? 1 : 0);
    }
    return id;
  }

  /** Next state after byte `b` from state `d` (>= 0), or -1 (dead). */
  step(d: number, b: number): number {
    const row = this.trans[d];
    if (row[b] === -2) this.fillRow(d, row);
    return row[b];
  }

  /**
   * Computes every transition of state `d` at once: bytes are split into ranges on which all
   * edges of the state's NFA states agree, and each range costs one closure.
   */
  private fillRow(d: number, row: Int32Array): void {
    const cut = new Uint8Array(257);
    for (const q of this.sets[d]) {
      const ed = this.nfa.edges[q];
      for (let k = 0; k < ed.length; k += 3) (cut[ed[k]] = 1), (cut[ed[k + 1] + 1] = 1);
    }
    for (let a = 0; a < 256; ) {
      let e = a + 1;
      while (e < 256 && !cut[e]) e++;
      const seeds: number[] = [];
      for (const q of this.sets[d]) {
        const ed = this.nfa.edges[q];
        for (let k = 0; k < ed.length; k += 3) if (a >= ed[k] && a <= ed[k + 1]) seeds.push(ed[k + 2]);
      }
      const next = seeds.length ? this.intern(this.closure(seeds)) : -1;
      row.fill(next, a, e);
      a = e;
    }
  }

  /** Transitions of state `d` (>= 0) by byte: -2 not computed yet (call `step`), -1 dead. Read only. */
  row(d: number): Int32Array {
    return this.trans[d];
  }

  /** Number of DFA states built so far. */
  get size(): number {
    return this.sets.length;
  }
}

const cache = new Map<string, ByteDfa>();

/** The DFA of a JSON Schema `pattern` (memoized by source). Throws `RegexCompileError`. */
export function patternDfa(pattern: string): ByteDfa {
  let d = cache.get(pattern);
  if (!d) {
    d = new ByteDfa(parseRegex(pattern), pattern);
    if (cache.size > 2000) cache.clear();
    cache.set(pattern, d);
  }
  return d;
}
