/**
 * Object and array frames of the value matcher: keys (from the node's key trie, or typed
 * freely), required/seen bookkeeping, property counts, separators and item counts. Every
 * transition keeps the state completable ("no dead ends", see `value-matcher.ts`).
 */
import { deref, type Node, type ObjectNode } from '../schema/schema-node.js';
import { strClose, strInit, strStep, type StrInner } from './string-matcher.js';
import { isWs, MAX_WS, type ArrFrame, type Frame, type KeyFreeFrame, type KeyLitFrame, type ObjFrame } from './frames.js';
import { finish, literalAccepts, startValue } from './value-matcher.js';

const hasBit = (s: Uint32Array, i: number) => (s[i >> 5] >>> (i & 31)) & 1;

/** What the key bookkeeping reads of an object frame (JSON `ObjFrame` or XML `XmlArgsFrame`). */
export type ObjState = Pick<ObjFrame, 'node' | 'seen' | 'extra' | 'count'>;

function missingRequired(f: ObjState): number {
  let m = 0;
  for (const i of f.node.required) if (!hasBit(f.seen, i)) m++;
  return m;
}

/** All required keys are present and minProperties is met. */
export function canClose(f: ObjState): boolean {
  return f.count >= f.node.minProps && missingRequired(f) === 0;
}

const staticOk = new WeakMap<ObjectNode, Uint8Array>();
/** Per name: its value is satisfiable and the name passes propertyNames. */
function nameOk(node: ObjectNode): Uint8Array {
  let ok = staticOk.get(node);
  if (!ok) {
    ok = new Uint8Array(node.names.length);
    node.names.forEach((k, i) => {
      const v = node.props.get(k)!;
      ok![i] = deref(v).kind !== 'never' && (!node.keyNode || literalAccepts(node.keyNode, k)) ? 1 : 0;
    });
    staticOk.set(node, ok);
  }
  return ok;
}

const nameIndexes = new WeakMap<ObjectNode, Map<string, number>>();
function nameIndex(node: ObjectNode): Map<string, number> {
  let m = nameIndexes.get(node);
  if (!m) nameIndexes.set(node, (m = new Map(node.names.map((k, i) => [k, i]))));
  return m;
}

/** Can name `i` be added now (unseen, allowed, within maxProperties)? */
export function addable(f: ObjState, i: number, missing = missingRequired(f)): boolean {
  if (hasBit(f.seen, i) || !nameOk(f.node)[i]) return false;
  if (f.node.required.includes(i)) return true;
  return f.count + 1 + missing <= f.node.maxProps;
}

/** Keys may be typed freely (open object with room for an optional key). */
export function freeKeys(f: ObjState, missing = missingRequired(f)): boolean {
  return !f.node.closed && f.count + 1 + missing <= f.node.maxProps;
}

export function canAddKey(f: ObjState): boolean {
  const missing = missingRequired(f);
  if (missing > 0) return true;
  if (freeKeys(f, missing)) return true;
  for (let i = 0; i < f.node.names.length; i++) if (addable(f, i, missing)) return true;
  return false;
}

function startKey(f: ObjFrame, out: Frame[]): void {
  const missing = missingRequired(f);
  if (freeKeys(f, missing)) {
    out.push({ t: 4, obj: f, s: strInit(f.node.keyString), text: '', parent: null });
    return;
  }
  const pos = f.node.keyTrie.step(0, 0x22);
  if (pos >= 0 && f.node.keyTrie.below[pos].some((i) => addable(f, i, missing))) out.push({ t: 5, obj: f, pos, parent: null });
}

/** Steps a key taken from the object's key trie. */
export function keyLitStep(f: KeyLitFrame, b: number, out: Frame[]): void {
  const tr = f.obj.node.keyTrie;
  const pos = tr.step(f.pos, b);
  if (pos < 0) return;
  const missing = missingRequired(f.obj);
  if (!tr.below[pos].some((i) => addable(f.obj, i, missing))) return;
  const end = tr.ends[pos];
  if (end >= 0 && !tr.hasChildren(pos)) out.push(keyDone(f.obj, end, null));
  else out.push({ t: 5, obj: f.obj, pos, parent: null });
}

/** Steps a freely typed key (content, or the closing quote). */
export function keyFreeStep(f: KeyFreeFrame, b: number, out: Frame[]): void {
  const sn = f.obj.node.keyString;
  if (b === 0x22 && f.s.esc === 0) {
    const target = freeKeyTarget(f.obj, f.s, f.text);
    if (target !== null) out.push(typeof target === 'number' ? keyDone(f.obj, target, null) : keyDone(f.obj, -1, target));
    return;
  }
  const s = strStep(sn, f.s, b);
  if (!s) return;
  // decoded content: bytes of the completed character (escape or raw byte)
  out.push({ t: 4, obj: f.obj, s, text: f.text + (s.emitted ?? ''), parent: null });
}

const NON_ASCII = /[\x80-\xff]/;

/**
 * What closing a freely typed key in inner state `s` with decoded content `text` (latin1) adds:
 * the index of a named property, the text of another key, or null when the key is not allowed.
 */
export function freeKeyTarget(obj: ObjFrame, s: StrInner, text: string): number | string | null {
  return strClose(obj.node.keyString, s) ? resolveKey(obj, text) : null;
}

/** The index of named property `text` (UTF-8 bytes as latin1), the key itself for another allowed key, or null (seen, not allowed, or too many). */
export function resolveKey(obj: ObjState, text: string): number | string | null {
  const node = obj.node;
  const key = NON_ASCII.test(text) ? Buffer.from(text, 'latin1').toString('utf8') : text;
  const idx = nameIndex(node).get(key) ?? -1;
  const missing = missingRequired(obj);
  if (idx >= 0) return addable(obj, idx, missing) ? idx : null;
  if (obj.extra.includes(key) || !node.valueFor(key) || obj.count + 1 + missing > node.maxProps) return null;
  return key;
}

/** The bookkeeping after adding name `idx` (>= 0) or the other key `key`, and the value node that follows. */
export function addKey(obj: ObjState, idx: number, key: string | null): { seen: Uint32Array; extra: string[]; count: number; cur: Node } {
  const seen = obj.seen.slice();
  let extra = obj.extra;
  let cur: Node;
  if (idx >= 0) {
    seen[idx >> 5] |= 1 << (idx & 31);
    cur = obj.node.props.get(obj.node.names[idx])!;
  } else {
    extra = [...extra, key!];
    cur = obj.node.valueFor(key!)!;
  }
  return { seen, extra, count: obj.count + 1, cur };
}

/** The object state after a key: name `idx` (>= 0) or the other key `key`. */
export function keyDone(obj: ObjFrame, idx: number, key: string | null): ObjFrame {
  return { ...obj, k: undefined, phase: 1, ws: 0, ...addKey(obj, idx, key) };
}

/** Steps an object frame (outside keys and values) by byte `b`. */
export function objStep(f: ObjFrame, b: number, out: Frame[]): void {
  if (isWs(b)) {
    if (f.phase !== 4 && f.ws < MAX_WS) out.push({ ...f, k: undefined, ws: f.ws + 1 });
    return;
  }
  switch (f.phase) {
    case 0:
    case 2:
      if (b === 0x7d) {
        if (canClose(f)) {
          const n = finish(f.parent!);
          if (n) out.push(n);
        }
      } else if (f.phase === 0 && b === 0x22) keyStart(f, out); else if (f.phase === 2 && b === 0x2c && canAddKey(f)) out.push({ ...f, k: undefined, phase: 3, ws: 0 });
      return;
    case 3:
      if (b === 0x22) keyStart(f, out);
      return;
    case 1:
      if (b === 0x3a) out.push({ t: 1, node: f.cur!, ws: 0, parent: { ...f, k: undefined, phase: 4, ws: 0 } });
      return;
  }
}

/** Consumes the opening quote of a key. */
function keyStart(f: ObjFrame, out: Frame[]): void {
  if (canAddKey(f)) startKey(f, out);
}

function itemNode(f: ArrFrame, i: number): Node | null {
  return i < f.node.prefix.length ? f.node.prefix[i] : f.node.items;
}

/** Steps an array frame (outside items) by byte `b`. */
export function arrStep(f: ArrFrame, b: number, out: Frame[]): void {
  if (isWs(b)) {
    if (f.phase !== 4 && f.ws < MAX_WS) out.push({ ...f, k: undefined, ws: f.ws + 1 });
    return;
  }
  const close = b === 0x5d && f.count >= f.node.minItems;
  if (f.phase === 0 || f.phase === 2) {
    if (close) {
      const n = finish(f.parent!);
      if (n) out.push(n);
      return;
    }
  }
  const more = f.count < f.node.maxItems && itemNode(f, f.count) !== null;
  if (f.phase === 2 && b === 0x2c && more) out.push({ ...f, k: undefined, phase: 3, ws: 0 });
  else if ((f.phase === 0 || f.phase === 3) && more) {
    startValue(itemNode(f, f.count)!, b, { ...f, k: undefined, phase: 4, ws: 0 }, out);
  }
}
