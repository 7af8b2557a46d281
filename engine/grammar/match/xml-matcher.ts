/**
 * Frames of XML tool-call parameters (`XmlArgsNode`: `<parameter=NAME>` headers, free names,
 * `</function>\n`) and of raw text (`RawNode`). The key bookkeeping (required, seen, counts,
 * which names are allowed) is the object matcher's, on the derived object node `x.obj`; every
 * transition keeps the state completable, as in `value-matcher.ts`.
 */
import { MAX_WS, type Frame, type RawFrame, type XmlArgsFrame, type XmlNameFrame } from './frames.js';
import { addable, addKey, canClose, freeKeys, resolveKey } from './object-matcher.js';
import { strClose, strInit, strStep } from './string-matcher.js';
import { finish, step } from './value-matcher.js';
import { deref, type Node, type RawNode, type XmlArgsNode } from '../schema/schema-node.js';

const GT = 0x3e;

/** Index in `x.head` of `</function>\n`. */
export const closeIndex = (x: XmlArgsNode): number => x.obj.names.length;
/** Index in `x.head` of `<parameter=` followed by a freely typed name. */
export const freeIndex = (x: XmlArgsNode): number => x.obj.names.length + 1;

/** Starts the parameters of `x` with their first byte `b`. */
export function startXmlArgs(x: XmlArgsNode, b: number, parent: Frame, out: Frame[]): void {
  const seen = new Uint32Array((x.obj.names.length + 31) >> 5);
  xmlArgsStep({ t: 10, x, node: x.obj, pos: 0, seen, extra: [], count: 0, parent }, b, out);
}

/** Can head entry `i` still be completed from `f`? */
function allowed(f: XmlArgsFrame, i: number): boolean {
  if (i === closeIndex(f.x)) return canClose(f);
  if (i === freeIndex(f.x)) return freeKeys(f);
  return addable(f, i);
}

/** The value state after parameter `idx` (>= 0) or the other name `key`, returning to `f`'s parameters. */
function valueAfter(f: XmlArgsFrame, idx: number, key: string | null): Frame {
  const { seen, extra, count, cur } = addKey(f, idx, key);
  const next: XmlArgsFrame = { t: 10, x: f.x, node: f.node, pos: 0, seen, extra, count, parent: f.parent };
  return { t: 1, node: cur, ws: MAX_WS, parent: next };
}

/** Steps the parameters' head trie by byte `b`. */
export function xmlArgsStep(f: XmlArgsFrame, b: number, out: Frame[]): void {
  const tr = f.x.head;
  const pos = tr.step(f.pos, b);
  if (pos < 0 || !tr.below[pos].some((i) => allowed(f, i))) return;
  const e = tr.ends[pos];
  if (e === freeIndex(f.x) && freeKeys(f)) {
    out.push({ t: 11, s: strInit(f.node.keyString), text: '', parent: { ...f, k: undefined, pos: 0 } });
  } else if (e >= 0 && e !== freeIndex(f.x) && !tr.hasChildren(pos)) {
    if (e !== closeIndex(f.x)) out.push(valueAfter(f, e, null));
    else {
      const n = finish(f.parent!);
      if (n) out.push(n);
    }
  } else out.push({ ...f, k: undefined, pos });
}

/** Steps a freely typed parameter name: raw content of `keyString`, or the closing `>`. */
export function xmlNameStep(f: XmlNameFrame, b: number, out: Frame[]): void {
  const obj = f.parent;
  const sn = obj.node.keyString;
  if (b === (obj.x.nameEnd ?? GT)) {
    if (!strClose(sn, f.s)) return;
    const target = resolveKey(obj, f.text);
    if (target !== null) out.push(typeof target === 'number' ? valueAfter(obj, target, null) : valueAfter(obj, -1, target));
    return;
  }
  const s = strStep(sn, f.s, b, true);
  if (s) out.push({ t: 11, s, text: f.text + s.emitted, parent: obj });
}

/** Starts raw text of `n` with its first byte `b`. */
export function startRaw(n: RawNode, b: number, parent: Frame, out: Frame[]): void {
  rawStep({ t: 12, node: n, s: strInit(n.str), parent }, b, out);
}

/** Steps raw text: `b` as content, and (where the text may end) as the first byte of what follows. */
export function rawStep(f: RawFrame, b: number, out: Frame[]): void {
  const s = strStep(f.node.str, f.s, b, true);
  if (s) out.push({ t: 12, node: f.node, s, parent: f.parent });
  if (strClose(f.node.str, f.s)) {
    const n = finish(f.parent!);
    if (n) step(n, b, out);
  }
}

/**
 * The states equivalent to value frame `f` when its node is raw text or a union with raw
 * alternatives and no whitespace may come first (XML values): raw frames at their start, and
 * value frames for the other alternatives. Null for any other frame. Lets a mask start from
 * raw frames, whose masks are split (`raw-walk.ts`).
 */
export function enterRaw(f: Frame): Frame[] | null {
  if (f.t !== 1 || f.ws < MAX_WS) return null;
  const n = deref(f.node);
  if (n.kind === 'raw') return [{ t: 12, node: n, s: strInit(n.str), parent: f.parent }];
  if (n.kind !== 'union' || !n.alts.some((a) => deref(a).kind === 'raw')) return null;
  return n.alts.flatMap((a: Node) => enterRaw({ t: 1, node: a, ws: f.ws, parent: f.parent }) ?? [{ t: 1, node: a, ws: f.ws, parent: f.parent }]);
}
