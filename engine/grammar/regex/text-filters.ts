/**
 * Content filters that are not JSON Schema patterns, built directly as DFA tables over UTF-8
 * bytes (`ByteDfa.fromTable`): text avoiding some substrings, one of a finite set of strings,
 * text that does not read as a JSON value, and products of DFAs. Each keeps the "no dead ends"
 * invariant of `ByteDfa`: from every state some continuation reaches an accepting state (for
 * the filters, a printable ASCII letter does).
 */
import { utf8 } from '../match/literal-trie.js';
import { ByteDfa, type DfaTable } from './byte-dfa.js';

const DEAD = -1;

/** A growing DFA table. */
class Table implements DfaTable {
  rows: Int32Array[] = [];
  accepting: number[] = [];
  /** A new state whose every byte goes to `fill` (default dead). */
  add(accepting: boolean, fill = DEAD): number {
    this.rows.push(new Int32Array(256).fill(fill));
    this.accepting.push(accepting ? 1 : 0);
    return this.rows.length - 1;
  }
  on(q: number, bytes: string | number[], to: number): void {
    for (const b of typeof bytes === 'string' ? Array.from(bytes, (c) => c.charCodeAt(0)) : bytes) this.rows[q][b] = to;
  }
}

/** UTF-8 byte tries over `words`: node → children by byte, and the index of the word ending there. */
function wordTrie(words: Uint8Array[]): { next: Map<number, number>[]; end: boolean[] } {
  const next: Map<number, number>[] = [new Map()];
  const end = [false];
  for (const w of words) {
    let n = 0;
    for (const b of w) {
      let c = next[n].get(b);
      if (c === undefined) next.push(new Map()), end.push(false), next[n].set(b, (c = next.length - 1));
      n = c;
    }
    end[n] = true;
  }
  return { next, end };
}

const avoidMemo = new Map<string, ByteDfa>();

/** Text containing none of `words` (Aho–Corasick automaton; every live state accepts). Memoized. */
export function avoidDfa(words: string[]): ByteDfa {
  const key = JSON.stringify(words);
  const hit = avoidMemo.get(key);
  if (hit) return hit;
  const { next, end } = wordTrie(words.map(utf8));
  // breadth-first: failure links, then full transitions; a node whose suffix is a word is dead
  const fail = new Int32Array(next.length);
  const order = [0];
  const t = new Table();
  const id = new Int32Array(next.length).fill(DEAD);
  for (let i = 0; i < order.length; i++) {
    const n = order[i];
    for (const [, c] of next[n]) order.push(c);
  }
  const delta = (n: number, b: number): number => {
    for (let x = n; ; x = fail[x]) {
      const c = next[x].get(b);
      if (c !== undefined) return c;
      if (x === 0) return 0;
    }
  };
  for (const n of order) {
    for (const [b, c] of next[n]) {
      fail[c] = n === 0 ? 0 : delta(fail[n], b);
      if (end[fail[c]]) end[c] = true;
    }
  }
  for (const n of order) if (!end[n]) id[n] = t.add(true);
  for (const n of order) {
    if (end[n]) continue;
    for (let b = 0; b < 256; b++) t.rows[id[n]][b] = id[delta(n, b)];
  }
  const dfa = ByteDfa.fromTable(t, `avoid ${key}`);
  avoidMemo.set(key, dfa);
  return dfa;
}

/** Exactly one of `values` (their UTF-8 bytes). */
export function literalDfa(values: string[]): ByteDfa {
  const { next, end } = wordTrie(values.map(utf8));
  const t = new Table();
  for (let n = 0; n < next.length; n++) t.add(end[n]);
  for (let n = 0; n < next.length; n++) for (const [b, c] of next[n]) t.rows[n][b] = c;
  return ByteDfa.fromTable(t, `one of ${JSON.stringify(values)}`);
}

/** Whitespace that String.prototype.trim or Python's str.strip removes, beyond ASCII: UTF-8 of U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF. */
const UNICODE_WS: number[][] = [
  [0xc2, 0x85], [0xc2, 0xa0], [0xe1, 0x9a, 0x80],
  ...Array.from({ length: 11 }, (_, k) => [0xe2, 0x80, 0x80 + k]),
  [0xe2, 0x80, 0xa8], [0xe2, 0x80, 0xa9], [0xe2, 0x80, 0xaf], [0xe2, 0x81, 0x9f], [0xe3, 0x80, 0x80], [0xef, 0xbb, 0xbf],
];
const ASCII_WS = ' \t\n\r\v\f';
const DIGITS = '0123456789';

let notJson: ByteDfa | null = null;

/**
 * Text that cannot be read as a JSON value, even after trimming whitespace: it does not start
 * with whitespace, `{` or `[`, and is not a complete JSON number or string, nor `true`, `false`,
 * `null` or `none` in any letter case, followed only by whitespace. Every other text passes
 * (e.g. `2024-01-01`, `12 apples`, `"quoted" text`, `nullable`).
 */
export function notJsonDfa(): ByteDfa {
  if (notJson) return notJson;
  const t = new Table();
  const start = t.add(true);
  const ok = t.add(true);
  t.rows[ok].fill(ok);
  t.rows[start].fill(ok);
  // a complete value followed by whitespace only: not accepting; anything else → ok
  const done = t.add(false, ok);
  const wsFrom = (q: number, to: number) => {
    t.on(q, ASCII_WS, to);
    for (const seq of UNICODE_WS) {
      let cur = q;
      seq.forEach((b, i) => {
        if (i === seq.length - 1) return t.on(cur, [b], to);
        let nx = t.rows[cur][b];
        if (nx === ok || nx === to || nx === DEAD) t.on(cur, [b], (nx = t.add(true, ok)));
        cur = nx;
      });
    }
  };
  wsFrom(done, done);
  wsFrom(start, DEAD);
  t.on(start, '{[', DEAD);
  // keywords, case-insensitive
  for (const w of ['true', 'false', 'null', 'none']) {
    let cur = start;
    [...w].forEach((c, i) => {
      const last = i === w.length - 1;
      let nx = t.rows[cur][c.charCodeAt(0)];
      if (nx === ok) nx = last ? t.add(false, ok) : t.add(true, ok);
      t.on(cur, c + c.toUpperCase(), nx);
      cur = nx;
    });
    wsFrom(cur, done);
  }
  // numbers: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
  const minus = t.add(true, ok), zero = t.add(false, ok), int = t.add(false, ok), dot = t.add(true, ok);
  const frac = t.add(false, ok), e = t.add(true, ok), esign = t.add(true, ok), exp = t.add(false, ok);
  for (const q of [start, minus]) t.on(q, '0', zero), t.on(q, '123456789', int);
  t.on(start, '-', minus);
  t.on(int, DIGITS, int);
  for (const q of [zero, int]) t.on(q, '.', dot), t.on(q, 'eE', e);
  t.on(dot, DIGITS, frac);
  t.on(frac, DIGITS, frac), t.on(frac, 'eE', e);
  t.on(e, '+-', esign), t.on(e, DIGITS, exp), t.on(esign, DIGITS, exp), t.on(exp, DIGITS, exp);
  for (const q of [zero, int, frac, exp]) wsFrom(q, done);
  // strings: "(plain | \escape | \uXXXX)*"
  const str = t.add(true), esc = t.add(true, ok);
  t.rows[str].fill(str);
  for (let b = 0; b < 0x20; b++) t.rows[str][b] = ok;
  t.on(str, '\\', esc);
  t.on(str, '"', done);
  t.on(start, '"', str);
  t.on(esc, '"\\/bfnrt', str);
  let hex = str;
  for (let k = 0; k < 4; k++) {
    const h = t.add(true, ok);
    t.on(h, '0123456789abcdefABCDEF', hex);
    hex = h;
  }
  t.on(esc, 'u', hex);
  notJson = ByteDfa.fromTable(t, 'not JSON');
  return notJson;
}

/** Reachable state pairs a product may have before `productDfa` gives up. */
const PRODUCT_LIMIT = 5_000;
const products = new WeakMap<ByteDfa, WeakMap<ByteDfa, ByteDfa | null>>();

/**
 * The intersection of `a` and `b` as one table DFA (pairs reachable from the start, pruned to
 * those from which both can accept together); null when it would exceed PRODUCT_LIMIT states or
 * is empty (callers then keep both DFAs). Memoized per pair.
 */
export function productDfa(a: ByteDfa, b: ByteDfa): ByteDfa | null {
  let m = products.get(a);
  if (!m) products.set(a, (m = new WeakMap()));
  if (m.has(b)) return m.get(b)!;
  const index = new Map<number, number>();
  const pairs: [number, number][] = [];
  const edges: Int32Array[] = [];
  const id = (p: number, q: number): number => {
    const key = p * 0x100000 + q;
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = pairs.length)), pairs.push([p, q]);
    return i;
  };
  id(0, 0);
  let result: ByteDfa | null = null;
  for (let i = 0; i < pairs.length && pairs.length <= PRODUCT_LIMIT; i++) {
    const [p, q] = pairs[i];
    const row = new Int32Array(256).fill(DEAD);
    for (let x = 0; x < 256; x++) {
      const p2 = a.step(p, x);
      const q2 = p2 < 0 ? -1 : b.step(q, x);
      if (q2 >= 0) row[x] = id(p2, q2);
    }
    edges.push(row);
  }
  if (pairs.length <= PRODUCT_LIMIT) {
    // liveness: backward from the pairs where both accept
    const live = new Uint8Array(pairs.length);
    const rev: number[][] = pairs.map(() => []);
    edges.forEach((row, i) => row.forEach((j) => j >= 0 && rev[j].push(i)));
    const work: number[] = [];
    pairs.forEach(([p, q], i) => a.accepting[p] && b.accepting[q] && (live[i] = 1) && work.push(i));
    while (work.length) for (const i of rev[work.pop()!]) if (!live[i]) (live[i] = 1), work.push(i);
    if (live[0]) {
      const t = new Table();
      const ids = new Int32Array(pairs.length).fill(DEAD);
      pairs.forEach(([p, q], i) => live[i] && (ids[i] = t.add(a.accepting[p] === 1 && b.accepting[q] === 1)));
      pairs.forEach((_, i) => live[i] && edges[i].forEach((j, x) => (t.rows[ids[i]][x] = j >= 0 ? ids[j] : DEAD)));
      result = ByteDfa.fromTable(t, `(${a.source}) & (${b.source})`);
    }
  }
  m.set(b, result);
  return result;
}

/** `dfas` with `filter` added: folded into a lone DFA when the product stays small, else appended. */
export function withFilter(dfas: ByteDfa[], filter: ByteDfa): ByteDfa[] {
  if (dfas.length === 0) return [filter];
  if (dfas.length === 1) {
    const p = productDfa(dfas[0], filter);
    if (p) return [p];
  }
  return [...dfas, filter];
}
