/**
 * A byte trie over a finite set of byte strings (enum values, property names as `"name"`).
 * Node 0 is the root. `ends[n]` is the index of the string ending at node n (or -1);
 * `below[n]` lists the indices of all strings in n's subtree, for exclusion (seen keys).
 */
export class LiteralTrie {
  private readonly next: Map<number, number>[] = [new Map()];
  readonly ends: number[] = [-1];
  readonly below: number[][] = [[]];
  readonly size: number;

  constructor(strings: Uint8Array[]) {
    strings.forEach((s, idx) => {
      let n = 0;
      this.below[0].push(idx);
      for (const b of s) {
        let c = this.next[n].get(b);
        if (c === undefined) {
          c = this.next.length;
          this.next.push(new Map());
          this.ends.push(-1);
          this.below.push([]);
          this.next[n].set(b, c);
        }
        n = c;
        this.below[n].push(idx);
      }
      if (this.ends[n] < 0) this.ends[n] = idx;
    });
    this.size = strings.length;
  }

  /** Child of node `n` by byte `b`, or -1. */
  step(n: number, b: number): number {
    return this.next[n].get(b) ?? -1;
  }

  /** True when node `n` has children. */
  hasChildren(n: number): boolean {
    return this.next[n].size > 0;
  }

  /** The single byte continuing node `n` when it has exactly one child and is not an end; else -1. */
  forcedByte(n: number): number {
    if (this.ends[n] >= 0 || this.next[n].size !== 1) return -1;
    for (const b of this.next[n].keys()) return b;
    return -1;
  }
}

const enc = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}
