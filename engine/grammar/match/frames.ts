/**
 * States of the byte-level JSON value matcher: an immutable stack of frames linked through
 * `parent`, with a stable key per state (`frameKey`) for memoization and deduplication.
 */
import type { Node, NumberNode, ObjectNode, RawNode, SeqNode, StringNode, XmlArgsNode } from '../schema/schema-node.js';
import type { NumFrame } from './number-matcher.js';
import { strKey, type StrInner } from './string-matcher.js';

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
  | SeqFrame
  | XmlArgsFrame
  | XmlNameFrame
  | RawFrame;

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

/**
 * Between the parameters of an XML call, at node `pos` of `x.head` (0: before `<parameter=` or
 * `</function>`). `node`, `seen`, `extra`, `count` as in `ObjFrame` (node = `x.obj`).
 */
export interface XmlArgsFrame extends Base {
  t: 10;
  x: XmlArgsNode;
  node: ObjectNode;
  pos: number;
  seen: Uint32Array;
  extra: string[];
  count: number;
}
/** A freely typed XML parameter name (raw text up to `>`); `parent` is the XmlArgsFrame at pos 0; `text` as in KeyFreeFrame. */
export interface XmlNameFrame extends Base { t: 11; s: StrInner; text: string; parent: XmlArgsFrame }
/** Inside raw text. */
export interface RawFrame extends Base { t: 12; node: RawNode; s: StrInner }

export const DONE: DoneFrame = { t: 0, parent: null, k: '$' };

export const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

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
    case 10:
      own = `X${f.x.id},${f.pos},${f.seen.join('.')},${f.extra.join('\u0000')}`;
      break;
    case 11:
      own = `P${strKey(f.s)};${f.text}`;
      break;
    case 12:
      own = `R${f.node.id},${strKey(f.s)}`;
      break;
  }
  f.k = `${own}|${p}`;
  return f.k;
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
