/**
 * The compiled form of a JSON Schema: a graph of grammar nodes (cycles through `ref` nodes for
 * recursive schemas). Every node the compiler returns is satisfiable (`never` is pruned away
 * wherever a choice exists), so the matcher can always complete what it has started.
 */
import type { ByteDfa } from '../regex/byte-dfa.js';
import type { LiteralTrie } from '../match/literal-trie.js';

export type Node = RefNode | NeverNode | LiteralNode | StringNode | NumberNode | ObjectNode | ArrayNode | UnionNode | SeqNode | RawNode | XmlArgsNode;

interface NodeBase {
  /** Unique per compiled grammar; used in state keys. */
  id: number;
}

/** Indirection for recursion; `target` is set once the referenced schema is compiled. */
export interface RefNode extends NodeBase {
  kind: 'ref';
  target: Node | null;
}

/** Matches nothing. */
export interface NeverNode extends NodeBase {
  kind: 'never';
}

/** A finite set of values, matched as their canonical `JSON.stringify` bytes. */
export interface LiteralNode extends NodeBase {
  kind: 'literal';
  trie: LiteralTrie;
  values: unknown[];
  /** Values before filtering by the rest of the schema (compile time only). */
  candidates: unknown[];
}

/** A string; lengths count code points; `dfas` must all accept the decoded content. */
export interface StringNode extends NodeBase {
  kind: 'string';
  minLength: number;
  maxLength: number;
  dfas: ByteDfa[];
}

/**
 * A number. Values are handled as integers N = value × 10^scale. Discrete nodes (`mult` set:
 * integers, or `multipleOf`) need N to be a multiple of `mult`, have inclusive bounds and at
 * most `scale` fraction digits (none for integers). Continuous nodes (`mult` null) take any
 * decimal; `lo`/`hi` are exact at `scale` with their exclusivity flags. null = unbounded.
 */
export interface NumberNode extends NodeBase {
  kind: 'number';
  integer: boolean;
  scale: number;
  lo: bigint | null;
  loExcl: boolean;
  hi: bigint | null;
  hiExcl: boolean;
  mult: bigint | null;
}

/** An object. `additional` null = no other keys allowed. */
export interface ObjectNode extends NodeBase {
  kind: 'object';
  /** Property names in a fixed order; indices are used in the `seen` bitsets. */
  names: string[];
  props: Map<string, Node>;
  /** Index into `names` of each required property. */
  required: number[];
  patterns: { dfa: ByteDfa; re: RegExp; node: Node }[];
  additional: Node | null;
  minProps: number;
  maxProps: number;
  /** Constraint on keys (propertyNames), as a string node; null = any key. */
  keyNode: StringNode | null;
  /** Constraints on a freely typed key (propertyNames, and for closed objects with patterns: names or patterns). */
  keyString: StringNode;
  /** No key outside `names` is possible (no additionalProperties, no patternProperties): keys come from `keyTrie`. */
  closed: boolean;
  /** Trie of `"name"` (canonical JSON) over `names`, for closed objects. */
  keyTrie: LiteralTrie;
  /** Resolves the value node of a key (props, patternProperties, additional); null = not allowed. */
  valueFor(key: string): Node | null;
}

/** An array: `prefix[i]` for the first items, then `items` (null = no more items). */
export interface ArrayNode extends NodeBase {
  kind: 'array';
  prefix: Node[];
  items: Node | null;
  minItems: number;
  maxItems: number;
}

/** Any of the alternatives. */
export interface UnionNode extends NodeBase {
  kind: 'union';
  alts: Node[];
}

/** Fixed bytes and values in sequence (tool-call framing: `{"name": "f", "arguments": ` value `}`). */
export interface SeqNode extends NodeBase {
  kind: 'seq';
  parts: (Uint8Array | Node)[];
  /** No whitespace before the value parts (default: up to MAX_WS, as between JSON tokens). */
  tight?: boolean;
}

/**
 * Raw text (an XML tool-call parameter value): the content of `str` without quotes or escapes;
 * any UTF-8 text but control bytes other than tab, LF and CR. It ends where what follows it
 * (its parent) takes over, so `str`'s DFAs must keep it from running into its terminator.
 */
export interface RawNode extends NodeBase {
  kind: 'raw';
  str: StringNode;
}

/**
 * The parameters of an XML tool call: `(<parameter=NAME>` value `)*</function>\n`, NAME from
 * `obj` (required names before the end, no repeats, extra names typed freely when `obj` is open).
 * `obj` is a derived object node whose values are the parameters' XML value nodes (see
 * engine/grammar/tool-call/xml-args.ts) and whose `keyString` constrains free names.
 */
export interface XmlArgsNode extends NodeBase {
  kind: 'xmlargs';
  obj: ObjectNode;
  /** `<parameter=NAME>` per name (index i of `obj.names`), then `</function>\n` (CLOSE) and `<parameter=` (FREE); another dialect's tags likewise. */
  head: LiteralTrie;
  /** The byte ending a freely typed name (`>`; `"` in MiniMax's `<parameter name="…"`); absent: `>`. */
  nameEnd?: number;
}

let nextSyntheticId = 1_000_000_000;

/** A fresh id for a node built outside the schema compiler (framing, XML values). */
export function syntheticNodeId(): number {
  return nextSyntheticId++;
}

/** Follows `ref` nodes. */
export function deref(n: Node): Node {
  while (n.kind === 'ref') {
    if (!n.target) throw new Error('unresolved ref node');
    n = n.target;
  }
  return n;
}
