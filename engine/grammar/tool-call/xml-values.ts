/**
 * Values of XML tool-call parameters (`<parameter=P>\nVALUE\n</parameter>`), typed by the
 * parameter's compiled schema node. The rule, shared by the grammar and `readXmlValue`:
 *
 * - 'string' parameters (every value the schema accepts is a string): VALUE is the raw text.
 * - 'json' parameters (no string accepted): VALUE is JSON (no whitespace around it).
 * - 'mixed' parameters (e.g. `["string", "null"]`): VALUE is JSON when `JSON.parse(VALUE.trim())`
 *   succeeds, else the raw text. The grammar allows JSON of the non-string alternatives, and raw
 *   text of the string alternatives only where it does not read as JSON (`notJsonDfa`), so both
 *   readings agree, and each reading validates.
 *
 * Raw text never contains `XML_FORBIDDEN` (it would end the value, function or call early for
 * a parser), nor do JSON strings inside values (the schema is compiled with that filter).
 */
import { SchemaCompileError } from '../errors.js';
import { LiteralTrie, utf8 } from '../match/literal-trie.js';
import { stringLive } from '../match/string-matcher.js';
import { avoidDfa, literalDfa, notJsonDfa, withFilter } from '../regex/text-filters.js';
import type { ByteDfa } from '../regex/byte-dfa.js';
import { syntheticNodeId, type LiteralNode, type Node, type RawNode, type SeqNode, type StringNode } from '../schema/schema-node.js';
import { QWEN_XML, type XmlDialect } from './xml-dialect.js';

/** Text that would end a value, a function or a call early if it appeared inside a value (Qwen's form; a dialect's `forbidden`). */
export const XML_FORBIDDEN = QWEN_XML.forbidden as string[];

/** The filter every string in an XML call of dialect `d` passes (raw values, and JSON strings inside values). */
export const xmlFilter = (d: XmlDialect = QWEN_XML): ByteDfa => avoidDfa(d.forbidden as string[]);

/** How a parameter's value is written: raw text, JSON, or either (see the module comment). */
export type ParamClass = 'string' | 'json' | 'mixed';

/** The alternatives of `n`, through refs and unions. */
function alternatives(n: Node, out: Node[] = [], seen = new Set<Node>()): Node[] {
  if (seen.has(n)) return out;
  seen.add(n);
  if (n.kind === 'ref') return n.target ? alternatives(n.target, out, seen) : out;
  if (n.kind === 'union') for (const a of n.alts) alternatives(a, out, seen);
  else if (n.kind !== 'never') out.push(n);
  return out;
}

/** The class of a parameter whose value node is `n`. */
export function paramClass(n: Node): ParamClass {
  let str = false;
  let other = false;
  for (const a of alternatives(n)) {
    if (a.kind === 'string') str = true;
    else if (a.kind === 'literal') for (const v of a.values) typeof v === 'string' ? (str = true) : (other = true);
    else other = true;
  }
  return str && !other ? 'string' : str ? 'mixed' : 'json';
}

/** The class of a parameter that several schema alternatives may give different nodes. */
export function joinClasses(cs: ParamClass[]): ParamClass {
  if (cs.length === 0) return 'json';
  return cs.every((c) => c === cs[0]) ? cs[0] : 'mixed';
}

/** True when `dfa` accepts `bytes` whole. */
function accepts(dfa: ByteDfa, bytes: Uint8Array): boolean {
  let q = 0;
  for (const b of bytes) if ((q = dfa.step(q, b)) < 0) return false;
  return dfa.accepting[q] === 1;
}

const RAW_TEXT = /^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$/;

/** Can `s` be written as raw text of a parameter of class `cls`? */
function rawWritable(s: string, cls: ParamClass, d: XmlDialect): boolean {
  const b = utf8(s);
  return RAW_TEXT.test(s) && accepts(xmlFilter(d), b) && (cls !== 'mixed' || accepts(notJsonDfa(), b));
}

function raw(str: StringNode): RawNode | null {
  return stringLive(str) ? { kind: 'raw', id: syntheticNodeId(), str } : null;
}

/** The node of VALUE for a parameter of class `cls` whose schema node is `n` (never when nothing can be written). */
export function xmlValueNode(n: Node, cls: ParamClass, d: XmlDialect = QWEN_XML): Node {
  const alts: Node[] = [];
  for (const a of alternatives(n)) {
    if (a.kind === 'string') {
      const r = raw(cls === 'mixed' ? { ...a, id: syntheticNodeId(), dfas: withFilter(a.dfas, notJsonDfa()) } : a);
      if (r) alts.push(r);
    } else if (a.kind === 'literal') {
      const strs = a.values.filter((v): v is string => typeof v === 'string' && rawWritable(v, cls, d));
      const others = a.values.filter((v) => typeof v !== 'string');
      if (strs.length) alts.push(raw({ kind: 'string', id: syntheticNodeId(), minLength: 0, maxLength: Infinity, dfas: [literalDfa(strs)] })!);
      if (others.length === a.values.length) alts.push(a);
      else if (others.length) {
        const lit: LiteralNode = { kind: 'literal', id: syntheticNodeId(), trie: new LiteralTrie(others.map((v) => utf8(JSON.stringify(v)))), values: others, candidates: others };
        alts.push(lit);
      }
    } else alts.push(a);
  }
  if (alts.length === 0) return { kind: 'never', id: syntheticNodeId() };
  return alts.length === 1 ? alts[0] : { kind: 'union', id: syntheticNodeId(), alts };
}

/** valueOpen VALUE valueClose (`\n` VALUE `\n</parameter>\n` in Qwen's form), what follows the parameter's head; never when VALUE is. */
export function xmlValueSeq(n: Node, cls: ParamClass, d: XmlDialect = QWEN_XML): Node {
  const v = xmlValueNode(n, cls, d);
  if (v.kind === 'never') return v;
  const seq: SeqNode = { kind: 'seq', id: syntheticNodeId(), parts: [utf8(d.valueOpen), v, utf8(d.valueClose)], tight: true };
  return seq;
}

/** Reads VALUE (one leading and one trailing `\n` already removed) of a parameter of class `cls`. */
export function readXmlValue(text: string, cls: ParamClass): unknown {
  if (cls === 'string') return text;
  try {
    return JSON.parse(text.trim());
  } catch {
    return text;
  }
}

/**
 * Throws when a property name under `n` contains `XML_FORBIDDEN` text (strings, literal ones
 * included, are kept clear of it by the compile filter; names of closed objects are not).
 */
export function checkXmlSafe(n: Node, tool: string, seen = new Set<Node>(), d: XmlDialect = QWEN_XML): void {
  if (seen.has(n)) return;
  seen.add(n);
  switch (n.kind) {
    case 'ref':
      return n.target ? checkXmlSafe(n.target, tool, seen, d) : undefined;
    case 'union':
      return n.alts.forEach((a) => checkXmlSafe(a, tool, seen, d));
    case 'array':
      return [...n.prefix, ...(n.items ? [n.items] : [])].forEach((a) => checkXmlSafe(a, tool, seen, d));
    case 'object':
      for (const k of n.names) {
        if (d.forbidden.some((w) => k.includes(w))) {
          throw new SchemaCompileError(`tool ${JSON.stringify(tool)}: the property name ${JSON.stringify(k)} contains text that ends an XML tool call`, 'properties', '#');
        }
      }
      for (const v of [...n.props.values(), ...n.patterns.map((p) => p.node), ...(n.additional ? [n.additional] : [])]) checkXmlSafe(v, tool, seen, d);
      return;
    default:
      return;
  }
}
