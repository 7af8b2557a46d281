/**
 * Byte-level BPE merges over UTF-8 bytes, O(n log n) in the piece length: a linked list of symbols
 * in typed arrays and a binary heap of candidate pairs keyed (merge rank, start position), stale
 * entries skipped on pop. It merges exactly as `@huggingface/tokenizers`' BPE does (lowest rank
 * first, ties to the leftmost pair; a pair listed twice in `merges` takes its last rank) — the same
 * tokens for every piece (test/unit/tokens-byte-bpe.test.ts checks it against the library) — but
 * without building strings, and in slices (time-slice.ts) so a megabyte piece never holds the loop.
 *
 * Symbols are numbered internally (every string that a merge reads or makes, and the 256 byte
 * chars); `outId` maps them to vocabulary ids, -1 for strings that have none (then the caller falls
 * back to the library, which drops or replaces such tokens).
 */
import { BYTE_CHAR } from './byte-char.js';
import type { Slicer, SlicedWork } from './time-slice.js';

/** 2^32: heap keys are rank · 2^32 + position. */
const POS = 4294967296;

/** The vocabulary and merges a BPE model is built from (the library's parsed BPE model). */
export interface BpeSource {
  /** Vocabulary id of a token string (undefined: not in the vocabulary). */
  idOf(token: string): number | undefined;
  /** Merges in rank order, as pairs of token strings. */
  merges: readonly (readonly [string, string])[];
}

/** Pieces up to this many bytes merge in one go on shared work arrays; longer ones get their own and may yield. */
export const SHORT = 4096;

/** The symbol list of one piece: symbol, next and previous live position (-1: none), candidate pairs. */
class Symbols {
  readonly sym: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly heap: Heap;
  constructor(n: number) {
    this.sym = new Int32Array(n);
    this.next = new Int32Array(n);
    this.prev = new Int32Array(n);
    // at most n − 1 pairs at the start, then each merge pops one and pushes ≤ 2: never more than 2n entries, so the
    // heap never grows (a grow copies it in one go; fresh pages are touched only as the heap fills, in slices)
    this.heap = new Heap(2 * n);
  }
}

/** Merge table: open addressing on (left symbol, right symbol) → (rank, merged symbol). */
class PairTable {
  private readonly mask: number;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  readonly rank: Int32Array;
  readonly merged: Int32Array;

  constructor(pairs: number) {
    let cap = 1024;
    while (cap < pairs * 2) cap *= 2;
    this.mask = cap - 1;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
  }

  /** Slot of (a, b): its own when present, else the empty slot where it would go. */
  slot(a: number, b: number): number {
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    h ^= h >>> 15;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const l = this.left[i]!;
      if (l === -1 || (l === a && this.right[i] === b)) return i;
    }
  }

  /** Sets (a, b) → (rank, merged); a later set of the same pair wins (the library's Map does the same). */
  set(a: number, b: number, rank: number, merged: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.rank[i] = rank;
    this.merged[i] = merged;
  }

  /** Slot of (a, b), or -1 when the pair has no merge. */
  find(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : i;
  }
}

/** Byte-level BPE over UTF-8 bytes. */
export class ByteBpe {
  private readonly pairs: PairTable;
  /** Symbol of each byte's char. */
  private readonly byteSym: Int32Array;
  /** Vocabulary id of each symbol, -1 when the vocabulary lacks it. */
  private readonly outId: Int32Array;
  /** Work arrays of short pieces (merged without yielding, so never shared by two encodes at once). */
  private readonly scratch = new Symbols(SHORT);

  private constructor(pairs: PairTable, byteSym: Int32Array, outId: Int32Array) {
    this.pairs = pairs;
    this.byteSym = byteSym;
    this.outId = outId;
  }

  /** Builds the merge table from `src` (~150k merges: a few hundred ms, so in slices too). */
  static *build(src: BpeSource, slicer: Slicer): SlicedWork<ByteBpe> {
    const sym = new Map<string, number>();
    const ids: number[] = [];
    const intern = (s: string): number => {
      let k = sym.get(s);
      if (k === undefined) {
        k = ids.length;
        sym.set(s, k);
        ids.push(src.idOf(s) ?? -1);
      }
      return k;
    };
    const byteSym = new Int32Array(256);
    for (let b = 0; b < 256; b++) byteSym[b] = intern(BYTE_CHAR[b]!);
    const pairs = new PairTable(src.merges.length);
    for (let rank = 0; rank < src.merges.length; rank++) {
      const [a, b] = src.merges[rank]!;
      pairs.set(intern(a), intern(b), rank, intern(a + b));
      if (slicer.due(4)) yield;
    }
    return new ByteBpe(pairs, byteSym, Int32Array.from(ids));
  }

  /** Merges `bytes[from, to)` (at most {@link SHORT} bytes, without yielding); see {@link encode}. */
  encodeShort(bytes: Uint8Array, from: number, to: number, out: number[]): boolean {
    const r = this.merge(bytes, from, to, out, this.scratch, null).next();
    return r.done === true && r.value;
  }

  /**
   * Merges the bytes `bytes[from, to)` and pushes their vocabulary ids to `out`; returns false
   * (pushing nothing) when a resulting token has no vocabulary id. Yields when `slicer` is due.
   */
  *encode(bytes: Uint8Array, from: number, to: number, out: number[], slicer: Slicer): SlicedWork<boolean> {
    if (to - from <= SHORT) return this.encodeShort(bytes, from, to, out);
    return yield* this.merge(bytes, from, to, out, new Symbols(to - from), slicer);
  }

  private *merge(bytes: Uint8Array, from: number, to: number, out: number[], w: Symbols, slicer: Slicer | null): SlicedWork<boolean> {
    const n = to - from;
    if (n === 1) return this.emit(this.byteSym[bytes[from]!]!, out);
    const { sym, next, prev, heap } = w;
    heap.size = 0;
    const pairs = this.pairs;
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteSym[bytes[from + i]!]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      if (slicer?.due()) yield;
    }
    for (let i = 0; i + 1 < n; i++) {
      const p = pairs.find(sym[i]!, sym[i + 1]!);
      if (p >= 0) heap.add(pairs.rank[p]! * POS + i);
      if (slicer?.due()) yield;
    }
    for (let i = (heap.size >> 1) - 1; i >= 0; i--) {
      heap.down(i);
      if (slicer?.due()) yield;
    }
    while (heap.size > 0) {
      if (slicer?.due()) yield;
      const key = heap.pop();
      const rank = Math.floor(key / POS);
      const i = key - rank * POS;
      const j = next[i]!;
      if (sym[i]! < 0 || j < 0) continue; // i was merged into its left neighbour, or is last
      const p = pairs.find(sym[i]!, sym[j]!);
      if (p < 0 || pairs.rank[p] !== rank) continue; // stale: one side has changed since the push
      sym[i] = pairs.merged[p]!;
      sym[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) {
        prev[k] = i;
        const q = pairs.find(sym[i]!, sym[k]!);
        if (q >= 0) heap.push(pairs.rank[q]! * POS + i);
      }
      const h = prev[i]!;
      if (h >= 0) {
        const q = pairs.find(sym[h]!, sym[i]!);
        if (q >= 0) heap.push(pairs.rank[q]! * POS + h);
      }
    }
    const start = out.length;
    for (let i = 0; i >= 0; i = next[i]!) {
      if (!this.emit(sym[i]!, out)) {
        out.length = start;
        return false;
      }
    }
    return true;
  }

  private emit(s: number, out: number[]): boolean {
    const id = this.outId[s]!;
    if (id < 0) return false;
    out.push(id);
    return true;
  }
}

/** Binary min-heap of float64 keys (rank · 2^32 + position; exact below 2^53), growing as needed. */
class Heap {
  private a: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(16, capacity));
  }

  /** Appends without ordering (then `down` from the middle to the root before the first pop). */
  add(key: number): void {
    if (this.size === this.a.length) this.grow();
    this.a[this.size++] = key;
  }

  push(key: number): void {
    if (this.size === this.a.length) this.grow();
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= key) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = key;
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a[--this.size]!;
    if (this.size > 0) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Sifts the key at `i` down to its place. */
  down(i: number): void {
    const a = this.a;
    const n = this.size;
    const key = a[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1]! < a[c]!) c++;
      if (a[c]! >= key) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = key;
  }

  private grow(): void {
    const b = new Float64Array(this.a.length * 2);
    b.set(this.a);
    this.a = b;
  }
}
