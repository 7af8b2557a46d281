/**
 * Byte-level matcher of JSON values against compiled schema nodes. A state is an immutable stack
 * of frames (`Frame`, linked through `parent`); `step(frame, byte, out)` pushes every successor
 * state (unions make the matcher nondeterministic, so callers keep sets of states).
 *
 * Invariant ("no dead ends"): every state produced can still be completed to a valid value —
 * each transition checks that required keys, item counts, length bounds, number ranges and
 * regular-expression states remain reachable.
 */
import { GrammarError } from './errors.js';
import { deref, type Node, type NumberNode, type ObjectNode, type SeqNode, type StringNode } from './schema-node.js';
import { numStep, numComplete, type NumFrame } from './number-matcher.js';
import { strStep, strClose, strInit, strKey, type StrInner } from './string-matcher.js';

/** Maximum whitespace bytes allowed in a row between JSON tokens. */
export const MAX_WS = 2;

export type Frame =
  | DoneFrame
  | ValueFrame
  | LitFrame
  | StrFrame
  | KeyFreeFrame
  | KeyLitFrame
  | NumFrameT
  | ObjFrame
  | ArrFrame
  | SeqFrame;

interface Base {
  parent: Frame | null;
  k?: string;
}
/** The value is finished; nothing may follow. */
export interface DoneFrame extends Base { t: 0 }
/** A value of `node` is expected (after up to MAX_WS whitespace). */
export interface ValueFrame extends Base { t: 1; node: Node; ws: number }
/** Inside a literal (enum/const/true/false/null) at trie node `pos`. */
export interface LitFrame extends Base { t: 2; node: Node & { kind: 'literal' }; pos: number }
/** Inside a string value. */
export interface StrFrame extends Base { t: 3; node: StringNode; s: StrInner }
/** Inside a freely typed object key; `text` holds the decoded bytes as latin1. */
export interface KeyFreeFrame extends Base { t: 4; obj: ObjFrame; s: StrInner; text: string }
/** Inside an object key taken from the node's key trie (includes the quotes). */
export interface KeyLitFrame extends Base { t: 5; obj: ObjFrame; pos: number }
export interface NumFrameT extends Base, NumFrame { t: 6; node: NumberNode }
/** Object phases: 0 after `{`, 1 after a key, 2 after a value, 3 after `,`, 4 inside a value. */
export interface ObjFrame extends Base {
  t: 7;
  node: ObjectNode;
  phase: number;
  ws: number;
  seen: Uint32Array;
  extra: string[];
  count: number;
  cur: Node | null;
}
/** Array phases: 0 after `[`, 2 after an item, 3 after `,`, 4 inside an item. */
export interface ArrFrame extends Base { t: 8; node: Node & { kind: 'array' }; phase: number; ws: number; count: number }
/** Inside a sequence node at part `part`, byte `pos` of a byte part. */
export interface SeqFrame extends Base { t: 9; node: SeqNode; part: number; pos: number }

export const DONE: DoneFrame = { t: 0, parent: null, k: '$' };

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** A state expecting one value of `node`, followed by `parent` (DONE by default); `leadingWs` false forbids whitespace before it. */
export function valueState(node: Node, parent: Frame = DONE, leadingWs = true): Frame {
  return { t: 1, node, ws: leadingWs ? 0 : MAX_WS, parent };
}

/** Stable identity of a state (equal keys ⇒ same future). */
export function frameKey(f: Frame): string {
  if (f.k !== undefined) return f.k;
  const p = f.parent ? frameKey(f.parent) : '';
  let own: string;
  switch (f.t) {
    case 0:
      own = '$';
      break;
    case 1:
      own = `V${f.node.id},${f.ws}`;
      break;
    case 2:
      own = `L${f.node.id},${f.pos}`;
      break;
    case 3:
      own = `S${f.node.id},${strKey(f.s)}`;
      break;
    case 4:
      own = `K${frameKey(f.obj)};${strKey(f.s)};${f.text}`;
      break;
    case 5:
      own = `k${frameKey(f.obj)};${f.pos}`;
      break;
    case 6:
      own = `N${f.node.id},${f.neg ? '-' : ''}${f.int}${f.frac === null ? '' : '.' + f.frac}${f.exp === null ? '' : 'e' + f.exp}`;
      break;
    case 7:
      own = `O${f.node.id},${f.phase},${f.ws},${f.seen.join('.')},${f.extra.join('\u0000')},${f.cur?.id ?? ''}`;
      break;
    case 8:
      own = `A${f.node.id},${f.phase},${f.ws},${f.count}`;
      break;
    case 9:
      own = `Q${f.node.id},${f.part},${f.pos}`;
      break;
  }
  f.k = `${own}|${p}`;
  return f.k;
}

/** The state reached when the value on top of `parent` completes. */
export function finish(parent: Frame): Frame | null {
  switch (parent.t) {
    case 0:
      return parent;
    case 7:
      return { ...parent, k: undefined, phase: 2, ws: 0, cur: null };
    case 8:
      return { ...parent, k: undefined, phase: 2, ws: 0, count: parent.count + 1 };
    case 9:
      return seqAt(parent.node, parent.part + 1, parent.parent!);
    default:
      throw new GrammarError(`frame ${parent.t} cannot hold a value`);
  }
}

function seqAt(node: SeqNode, part: number, parent: Frame): Frame | null {
  if (part >= node.parts.length) return finish(parent);
  const p = node.parts[part];
  if (p instanceof Uint8Array) return { t: 9, node, part, pos: 0, parent };
  return { t: 1, node: p, ws: 0, parent: { t: 9, node, part, pos: 0, parent } };
}

/** True when the input may end in this state. */
export function canEnd(f: Frame): boolean {
  switch (f.t) {
    case 0:
      return true;
    case 2:
      return f.node.trie.ends[f.pos] >= 0 && endAfter(f.parent!);
    case 6:
      return numComplete(f.node, f) && endAfter(f.parent!);
    case 9:
      return false;
    default:
      return false;
  }
}

function endAfter(parent: Frame): boolean {
  const n = finish(parent);
  return n !== null && canEnd(n);
}

/** Pushes into `out` every state reached from `f` by byte `b`. */
export function step(f: Frame, b: number, out: Frame[]): void {
  switch (f.t) {
    case 0:
      return;
    case 1:
      if (isWs(b) && f.ws < MAX_WS) out.push({ t: 1, node: f.node, ws: f.ws + 1, parent: f.parent });
      return startValue(f.node, b, f.parent!, out); // only sequences can start with whitespace
    case 2: {
      const tr = f.node.trie;
      const next = tr.step(f.pos, b);
      if (next >= 0) {
        if (tr.ends[next] >= 0 && !tr.hasChildren(next)) {
          const n = finish(f.parent!);
          if (n) out.push(n);
        } else out.push({ t: 2, node: f.node, pos: next, parent: f.parent });
      }
      if (tr.ends[f.pos] >= 0) {
        const n = finish(f.parent!);
        if (n) step(n, b, out);
      }
      return;
    }
    case 3: {
      if (b === 0x22 && f.s.esc === 0) {
        if (strClose(f.node, f.s)) {
          const n = finish(f.parent!);
          if (n) out.push(n);
        }
        return;
      }
      const s = strStep(f.node, f.s, b);
      if (s) out.push({ t: 3, node: f.node, s, parent: f.parent });
      return;
    }
    case 4:
      return keyFreeStep(f, b, out);
    case 5:
      return keyLitStep(f, b, out);
    case 6: {
      const n = numStep(f.node, f, b);
      if (n) out.push({ ...n, k: undefined, t: 6, node: f.node, parent: f.parent });
      else if (numComplete(f.node, f)) {
        const p = finish(f.parent!);
        if (p) step(p, b, out);
      }
      return;
    }
    case 7:
      return objStep(f, b, out);
    case 8:
      return arrStep(f, b, out);
    case 9: {
      const bytes = f.node.parts[f.part] as Uint8Array;
      if (bytes[f.pos] !== b) return;
      if (f.pos + 1 < bytes.length) out.push({ t: 9, node: f.node, part: f.part, pos: f.pos + 1, parent: f.parent });
      else {
        const n = seqAt(f.node, f.part + 1, f.parent!);
        if (n) out.push(n);
      }
      return;
    }
  }
}

/** Starts a value of `node` with its first byte `b`. */
export function startValue(node: Node, b: number, parent: Frame, out: Frame[]): void {
  const n = deref(node);
  switch (n.kind) {
    case 'never':
      return;
    case 'union':
      for (const a of n.alts) startValue(a, b, parent, out);
      return;
    case 'literal':
      return step({ t: 2, node: n, pos: 0, parent }, b, out);
    case 'string':
      if (b === 0x22) out.push({ t: 3, node: n, s: strInit(n), parent });
      return;
    case 'number': {
      const s = numStep(n, { neg: false, int: '', frac: null, exp: null }, b);
      if (s) out.push({ ...s, t: 6, node: n, parent });
      return;
    }
    case 'object':
      if (b === 0x7b) {
        out.push({ t: 7, node: n, phase: 0, ws: 0, seen: new Uint32Array((n.names.length + 31) >> 5), extra: [], count: 0, cur: null, parent });
      }
      return;
    case 'array':
      if (b === 0x5b) out.push({ t: 8, node: n, phase: 0, ws: 0, count: 0, parent });
      return;
    case 'seq': {
      const first = seqAt(n, 0, parent);
      if (first) step(first, b, out);
      return;
    }
    case 'ref':
      return;
  }
}

// ---- objects ----

const hasBit = (s: Uint32Array, i: number) => (s[i >> 5] >>> (i & 31)) & 1;

function missingRequired(f: ObjFrame): number {
  let m = 0;
  for (const i of f.node.required) if (!hasBit(f.seen, i)) m++;
  return m;
}

function canClose(f: ObjFrame): boolean {
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

/** Can name `i` be added now (unseen, allowed, within maxProperties)? */
function addable(f: ObjFrame, i: number, missing: number): boolean {
  if (hasBit(f.seen, i) || !nameOk(f.node)[i]) return false;
  if (f.node.required.includes(i)) return true;
  return f.count + 1 + missing <= f.node.maxProps;
}

/** Keys may be typed freely (open object with room for an optional key). */
function freeKeys(f: ObjFrame, missing: number): boolean {
  return !f.node.closed && f.count + 1 + missing <= f.node.maxProps;
}

function canAddKey(f: ObjFrame): boolean {
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

function keyLitStep(f: KeyLitFrame, b: number, out: Frame[]): void {
  const tr = f.obj.node.keyTrie;
  const pos = tr.step(f.pos, b);
  if (pos < 0) return;
  const missing = missingRequired(f.obj);
  if (!tr.below[pos].some((i) => addable(f.obj, i, missing))) return;
  const end = tr.ends[pos];
  if (end >= 0 && !tr.hasChildren(pos)) out.push(keyDone(f.obj, end, null));
  else out.push({ t: 5, obj: f.obj, pos, parent: null });
}

function keyFreeStep(f: KeyFreeFrame, b: number, out: Frame[]): void {
  const sn = f.obj.node.keyString;
  if (b === 0x22 && f.s.esc === 0) {
    if (!strClose(sn, f.s)) return;
    const key = Buffer.from(f.text, 'latin1').toString('utf8');
    const node = f.obj.node;
    const idx = node.names.indexOf(key);
    const missing = missingRequired(f.obj);
    if (idx >= 0) {
      if (addable(f.obj, idx, missing)) out.push(keyDone(f.obj, idx, null));
      return;
    }
    if (f.obj.extra.includes(key) || !node.valueFor(key) || f.obj.count + 1 + missing > node.maxProps) return;
    out.push(keyDone(f.obj, -1, key));
    return;
  }
  const s = strStep(sn, f.s, b);
  if (!s) return;
  // decoded content: bytes of the completed character (escape or raw byte)
  out.push({ t: 4, obj: f.obj, s, text: f.text + (s.emitted ?? ''), parent: null });
}

function keyDone(obj: ObjFrame, idx: number, key: string | null): ObjFrame {
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
  return { ...obj, k: undefined, phase: 1, ws: 0, seen, extra, count: obj.count + 1, cur };
}

function objStep(f: ObjFrame, b: number, out: Frame[]): void {
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

// ---- arrays ----

function itemNode(f: ArrFrame, i: number): Node | null {
  return i < f.node.prefix.length ? f.node.prefix[i] : f.node.items;
}

function arrStep(f: ArrFrame, b: number, out: Frame[]): void {
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

// ---- helpers used at compile time ----

const enc = new TextEncoder();

/** True when `value` (serialized with JSON.stringify) is a complete match of `node`. */
export function literalAccepts(node: Node, value: unknown): boolean {
  const text = JSON.stringify(value);
  if (text === undefined) return false;
  return acceptsBytes(valueState(node), enc.encode(text));
}

/** Runs bytes from a state; true when the input can end there. */
export function acceptsBytes(start: Frame, bytes: Uint8Array): boolean {
  let cur: Frame[] = [start];
  for (const b of bytes) {
    const next: Frame[] = [];
    for (const f of cur) step(f, b, next);
    if (!next.length) return false;
    cur = dedupe(next);
  }
  return cur.some(canEnd);
}

/** Removes duplicate states (by key). */
export function dedupe(states: Frame[]): Frame[] {
  if (states.length < 2) return states;
  const seen = new Set<string>();
  const out: Frame[] = [];
  for (const s of states) {
    const k = frameKey(s);
    if (!seen.has(k)) seen.add(k), out.push(s);
  }
  return out;
}

