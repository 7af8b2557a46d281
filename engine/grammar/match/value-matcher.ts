/**
 * Byte-level matcher of JSON values against compiled schema nodes. A state is an immutable stack
 * of frames (`Frame`, linked through `parent`); `step(frame, byte, out)` pushes every successor
 * state (unions make the matcher nondeterministic, so callers keep sets of states).
 *
 * Invariant ("no dead ends"): every state produced can still be completed to a valid value —
 * each transition checks that required keys, item counts, length bounds, number ranges and
 * regular-expression states remain reachable.
 */
import { GrammarError } from '../errors.js';
import { DONE, MAX_WS, dedupe, isWs, type Frame } from './frames.js';
import { arrStep, keyFreeStep, keyLitStep, objStep } from './object-matcher.js';
import { deref, type Node, type SeqNode } from '../schema/schema-node.js';
import { numStep, numComplete } from './number-matcher.js';
import { strStep, strClose, strInit } from './string-matcher.js';
import { rawStep, startRaw, startXmlArgs, xmlArgsStep, xmlNameStep } from './xml-matcher.js';

export * from './frames.js';
export { freeKeyTarget, keyDone } from './object-matcher.js';

/** A state expecting one value of `node`, followed by `parent` (DONE by default); `leadingWs` false forbids whitespace before it. */
export function valueState(node: Node, parent: Frame = DONE, leadingWs = true): Frame {
  return { t: 1, node, ws: leadingWs ? 0 : MAX_WS, parent };
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
    case 10:
      return parent;
    default:
      throw new GrammarError(`frame ${parent.t} cannot hold a value`);
  }
}

function seqAt(node: SeqNode, part: number, parent: Frame): Frame | null {
  if (part >= node.parts.length) return finish(parent);
  const p = node.parts[part];
  if (p instanceof Uint8Array) return { t: 9, node, part, pos: 0, parent };
  return { t: 1, node: p, ws: node.tight ? MAX_WS : 0, parent: { t: 9, node, part, pos: 0, parent } };
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
    case 12:
      return strClose(f.node.str, f.s) && endAfter(f.parent!);
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
    case 10:
      return xmlArgsStep(f, b, out);
    case 11:
      return xmlNameStep(f, b, out);
    case 12:
      return rawStep(f, b, out);
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
    case 'raw':
      return startRaw(n, b, parent, out);
    case 'xmlargs':
      return startXmlArgs(n, b, parent, out);
    case 'ref':
      return;
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
