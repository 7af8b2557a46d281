/**
 * Mask walk from one string-body state (a string value or a freely typed key) over the tokens
 * that leave plain content (`GrammarVocab.stringExitTrie`). Content is stepped on the inner
 * string state alone, in typed arrays when the string has no DFA; only at the closing quote
 * does the walk go on with full matcher states, built only when the token continues after it.
 */
import { stepSet } from '../match/state-set.js';
import { strClose, strStep, utf8Step, type StrInner } from '../match/string-matcher.js';
import { finish, freeKeyTarget, keyDone, type Frame, type KeyFreeFrame, type StrFrame } from '../match/value-matcher.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

const MAX_DEPTH = 1024;

/** Walks from string-body states; holds the per-depth scratch arrays. */
export class BodyWalker {
  private readonly stack: (Frame[] | null)[] = [];
  private readonly inner: (StrInner | null)[] = [];
  private readonly mode = new Uint8Array(MAX_DEPTH);
  private readonly es = new Int8Array(MAX_DEPTH);
  private readonly hx = new Int32Array(MAX_DEPTH);
  private readonly us = new Int8Array(MAX_DEPTH);
  private readonly cs = new Float64Array(MAX_DEPTH);
  private readonly path = new Uint8Array(MAX_DEPTH);

  constructor(readonly vocab: GrammarVocab) {}

  /**
   * Sets in `mask` the tokens of `trie` allowed from string-body frame `f` (escape state 0);
   * returns the trie steps taken. Content is stepped as (escape, UTF-8 state, count) in typed
   * arrays for strings without DFAs, as `StrInner` otherwise; at the closing quote the walk
   * goes on with full states, built only when the token continues after the quote.
   */
  walk(trie: FlatTrie, f: StrFrame | KeyFreeFrame, mask: Uint32Array): number {
    const { byte, depth, end, tok, size } = trie;
    const node = f.t === 3 ? f.node : f.obj.node.keyString;
    const { stack, inner, es, hx, us, cs, path, mode } = this;
    const fast = node.dfas.length === 0;
    const max = node.maxLength;
    const cap = max !== Infinity ? max + 1 : node.minLength;
    // mode per depth: 0 content in typed arrays, 1 content as StrInner, 2 full states
    mode[0] = fast ? 0 : 1;
    es[0] = f.s.esc;
    hx[0] = f.s.hex;
    us[0] = f.s.u;
    cs[0] = f.s.count;
    inner[0] = f.s;
    let closed: Frame | null | undefined; // finish(parent) of a string value, computed once
    let steps = 0;
    for (let i = 1; i < size; ) {
      const d = depth[i];
      const b = byte[i];
      const m = mode[d - 1];
      steps++;
      path[d] = b;
      let ok = true;
      if (m === 2) {
        const next = stepSet(stack[d - 1]!, b, false);
        if (next) (stack[d] = next), (mode[d] = 2);
        else ok = false;
      } else if (b === 0x22 && (m === 0 ? es[d - 1] === 0 : inner[d - 1]!.esc === 0)) {
        const s = m === 0 ? { esc: 0, hex: 0, u: us[d - 1], count: cs[d - 1], d: [] } : inner[d - 1]!;
        const leaf = end[i] === i + 1;
        if (f.t === 3) {
          if (!strClose(f.node, s)) ok = false;
          else {
            if (closed === undefined) closed = finish(f.parent!);
            if (!closed) ok = false;
            else if (!leaf) (stack[d] = [closed]), (mode[d] = 2);
          }
        } else {
          const target = freeKeyTarget(f.obj, s, f.text + decodeContent(path, d));
          if (target === null) ok = false;
          else if (!leaf) {
            stack[d] = [typeof target === 'number' ? keyDone(f.obj, target, null) : keyDone(f.obj, -1, target)];
            mode[d] = 2;
          }
        }
      } else if (m === 0) {
        // same transitions as strStep for a node without DFAs
        let e = es[d - 1];
        let h = hx[d - 1];
        let u = us[d - 1];
        let c = cs[d - 1];
        let chars = 0; // code points completed by this byte
        if (e === 0) {
          if (b === 0x5c) {
            if (u !== 0 || c + 1 > max) ok = false;
            else e = 1;
          } else if (b < 0x20) ok = false;
          else {
            const pu = u;
            u = utf8Step(pu, b);
            if (u < 0) ok = false;
            else if (pu === 0) chars = 1;
          }
        } else if (e === 1) {
          if (ESCAPES[b]) (e = 0), (chars = 1);
          else if (b === 0x75) (e = 2), (h = 0);
          else ok = false;
        } else {
          const v = hexValue(b);
          if (v < 0) ok = false;
          else {
            h = h * 16 + v;
            e++;
            if (e === 4 && h >= 0xd8 && h <= 0xdf) ok = false;
            else if (e === 6) (e = 0), (h = 0), (chars = 1);
          }
        }
        if (chars) {
          if (c + 1 > max) ok = false;
          else c = Math.min(c + 1, cap);
        }
        es[d] = e;
        hx[d] = h;
        us[d] = u;
        cs[d] = c;
        mode[d] = 0;
      } else {
        const ns = strStep(node, inner[d - 1]!, b);
        if (!ns) ok = false;
        else (inner[d] = ns), (mode[d] = 1);
      }
      if (!ok) {
        i = end[i];
        continue;
      }
      if (tok[i] >= 0) this.vocab.setToken(mask, tok[i]);
      i++;
    }
    return steps;
  }
}

/** Simple escapes `\\x` → decoded byte (0 = not an escape). */
const ESCAPES = new Uint8Array(256);
for (const [k, v] of [[0x22, 0x22], [0x5c, 0x5c], [0x2f, 0x2f], [0x62, 8], [0x66, 12], [0x6e, 10], [0x72, 13], [0x74, 9]]) ESCAPES[k] = v;
const hexValue = (b: number) => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);

/**
 * Decoded content (UTF-8 bytes as latin1) of the valid, complete JSON string content at
 * bytes 1..d-1 of the current trie path.
 */
function decodeContent(path: Uint8Array, d: number): string {
  let t = '';
  for (let k = 1; k < d; k++) {
    const b = path[k];
    if (b !== 0x5c) t += String.fromCharCode(b);
    else if (path[k + 1] !== 0x75) t += String.fromCharCode(ESCAPES[path[++k]]);
    else {
      let cp = 0;
      for (let j = 0; j < 4; j++) cp = cp * 16 + hexValue(path[k + 2 + j]);
      k += 5;
      const bytes = cp < 0x80 ? [cp] : cp < 0x800 ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)] : [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
      t += String.fromCharCode(...bytes);
    }
  }
  return t;
}
