/**
 * JSON Schema → grammar node graph (`schema-node.ts`). The schema is first checked against its
 * meta-schema with ajv, then flattened (`schema-flat.ts`) and compiled; `anyOf` is distributed,
 * `oneOf` accepted only where its branches are provably disjoint. Unsatisfiable parts are pruned
 * so that every choice left in the graph can be completed.
 */
import { patternDfa, type ByteDfa } from '../regex/byte-dfa.js';
import { withFilter } from '../regex/text-filters.js';
import { floorDiv, ceilDiv, rescale, toDecimal } from './decimal.js';
import { RegexCompileError, SchemaCompileError } from '../errors.js';
import { LiteralTrie, utf8 } from '../match/literal-trie.js';
import { checkSchema } from './ajv-check.js';
import { applySchema, cloneFlat, deepEqual, emptyFlat, keySubs, T_ARR, T_BOOL, T_INT, T_NULL, T_NUM, T_OBJ, T_STR, type Flat } from './schema-flat.js';
import { deref, type ArrayNode, type LiteralNode, type Node, type ObjectNode, type RefNode, type StringNode } from './schema-node.js';
import { SchemaResolver, type SchemaAt } from './schema-resolver.js';
import { literalAccepts } from '../match/value-matcher.js';
import { disjoint, prune, satisfiable } from './schema-prune.js';

export { numberFeasible } from './schema-prune.js';

const MAX_NODES = 20_000;
/** Node ids are unique across compilations, so graphs of several schemas can be combined. */
let nextNodeId = 0;

/** A compiled schema: the root node and what the matcher needs. */
export interface CompiledSchema {
  root: Node;
  nodeCount: number;
  /** The schema as given. */
  schema: unknown;
}

/** Options of `compileSchema`. */
export interface CompileOptions {
  /** Check the schema against its meta-schema with ajv first (default true). */
  validate?: boolean;
  /** A filter every string (value or key) must also pass, as one more DFA on its content (e.g. text that cannot break the XML framing around it). */
  stringFilter?: ByteDfa;
}

/** Compiles a JSON Schema; throws `SchemaCompileError` naming the keyword and path it refuses. */
export function compileSchema(schema: unknown, opts: CompileOptions = {}): CompiledSchema {
  if (opts.validate !== false) checkSchema(schema);
  const c = new Compiler(new SchemaResolver(schema), opts.stringFilter);
  try {
    const root = c.nodeFor([c.resolver.root]);
    c.finish();
    const r = deref(root);
    if (r.kind === 'never') throw new SchemaCompileError('the schema accepts no value', 'schema', '#');
    return { root, nodeCount: c.count, schema };
  } catch (e) {
    if (e instanceof RegexCompileError) throw new SchemaCompileError(e.message, 'pattern', '#');
    throw e;
  }
}

class Compiler {
  count = 0;
  private readonly memo = new Map<string, Node>();
  private readonly ids = new WeakMap<object, number>();
  private nextObj = 0;
  private readonly literals: { node: LiteralNode; check: Node | null }[] = [];
  private readonly all: Node[] = [];
  private readonly oneOfs: { alts: Node[]; path: string }[] = [];
  readonly never: Node;

  readonly plainString: StringNode;

  constructor(readonly resolver: SchemaResolver, private readonly filter?: ByteDfa) {
    this.never = this.make({ kind: 'never' });
    this.plainString = this.make({ kind: 'string', minLength: 0, maxLength: Infinity, dfas: filter ? [filter] : [] });
  }

  make<T extends { kind: string }>(n: T): T & { id: number } {
    if (++this.count > MAX_NODES) throw new SchemaCompileError('schema too large to compile', 'schema', '#');
    const node = { ...n, id: ++nextNodeId } as T & { id: number };
    this.all.push(node as unknown as Node);
    return node;
  }

  private keyOf(list: SchemaAt[]): string {
    return list
      .map((s) => {
        if (typeof s.schema === 'boolean') return String(s.schema);
        let id = this.ids.get(s.schema as object);
        if (id === undefined) this.ids.set(s.schema as object, (id = ++this.nextObj));
        return `${id}@${s.base}`;
      })
      .join('+');
  }

  /** The node of the conjunction of `list` (memoized; recursion goes through a ref node). */
  nodeFor(list: SchemaAt[]): Node {
    const key = this.keyOf(list);
    const hit = this.memo.get(key);
    if (hit) return hit;
    const ref: RefNode = this.make({ kind: 'ref' as const, target: null as Node | null });
    this.memo.set(key, ref);
    const f = emptyFlat(list[0]?.path ?? '#');
    for (const s of list) applySchema(f, s, this.resolver);
    ref.target = this.compileFlat(f);
    return ref;
  }

  private compileFlat(f: Flat): Node {
    if (f.anyOf.length) {
      const [g, ...rest] = f.anyOf;
      const alts: Node[] = [];
      for (const a of g.alts) {
        const fa = cloneFlat(f);
        fa.anyOf = rest;
        applySchema(fa, a, this.resolver);
        alts.push(this.compileFlat(fa));
      }
      if (g.one) this.oneOfs.push({ alts, path: g.path });
      return this.make({ kind: 'union', alts });
    }
    if (f.types === 0) return this.never;
    if (f.enum !== null || f.notEnum.length) {
      let values = f.enum;
      if (values === null) {
        if (f.types & ~(T_BOOL | T_NULL)) throw new SchemaCompileError('not: {enum|const} is supported only for finite types', 'not', f.path);
        values = [...(f.types & T_BOOL ? [true, false] : []), ...(f.types & T_NULL ? [null] : [])];
      }
      values = values.filter((v) => !f.notEnum.some((w) => deepEqual(v, w)));
      const check = { ...cloneFlat(f), enum: null, notEnum: [] };
      const node: LiteralNode = this.make({ kind: 'literal', trie: new LiteralTrie([]), values: [], candidates: values });
      this.literals.push({ node, check: this.compileFlat(check) });
      return node;
    }
    const alts: Node[] = [];
    if (f.types & T_OBJ) alts.push(this.objectNode(f));
    if (f.types & T_ARR) alts.push(this.arrayNode(f));
    if (f.types & T_STR) alts.push(this.stringNode(f));
    if (f.types & (T_NUM | T_INT)) alts.push(this.numberNode(f));
    const lits = [...(f.types & T_BOOL ? [true, false] : []), ...(f.types & T_NULL ? [null] : [])];
    if (lits.length) alts.push(this.literalNode(lits));
    return alts.length === 1 ? alts[0] : this.make({ kind: 'union', alts });
  }

  literalNode(values: unknown[]): LiteralNode {
    return this.make({ kind: 'literal', trie: new LiteralTrie(values.map((v) => utf8(JSON.stringify(v)))), values, candidates: values });
  }

  private stringNode(f: Flat, extra: string[] = []): StringNode | Node {
    const dfas: ByteDfa[] = [];
    for (const p of [...f.patterns, ...extra]) {
      try {
        dfas.push(patternDfa(p));
      } catch (e) {
        if (e instanceof RegexCompileError) throw new SchemaCompileError(e.message, 'pattern', f.path);
        throw e;
      }
    }
    if (f.minLength > f.maxLength) return this.never;
    return this.make({ kind: 'string', minLength: f.minLength, maxLength: f.maxLength, dfas: this.filter ? withFilter(dfas, this.filter) : dfas });
  }

  private numberNode(f: Flat): Node {
    const integer = !(f.types & T_NUM);
    if (f.multipleOf.length > 1) throw new SchemaCompileError('several multipleOf values are not supported', 'multipleOf', f.path);
    for (const x of [f.lo, f.hi]) if (x !== null && !Number.isFinite(x)) throw new SchemaCompileError('non-finite bound', 'minimum', f.path);
    const multD = f.multipleOf.length ? toDecimal(f.multipleOf[0]) : null;
    const loD = f.lo === null ? null : toDecimal(f.lo);
    const hiD = f.hi === null ? null : toDecimal(f.hi);
    if (integer || multD) {
      // discrete: values are N / 10^scale with N a multiple of `mult`; bounds made inclusive
      const scale = multD?.scale ?? 0;
      const unit = 10n ** BigInt(scale);
      const mult = multD ? (integer ? lcm(multD.digits, unit) : multD.digits) : unit;
      const bound = (d: typeof loD, excl: boolean, up: boolean): bigint | null => {
        if (!d) return null;
        const div = 10n ** BigInt(Math.max(0, d.scale - scale));
        const num = d.digits * 10n ** BigInt(Math.max(0, scale - d.scale));
        const v = up ? ceilDiv(num, div) : floorDiv(num, div);
        const exact = v * div === num;
        return excl && exact ? (up ? v + 1n : v - 1n) : v;
      };
      return this.make({
        kind: 'number', integer, scale, mult,
        lo: bound(loD, f.loExcl, true), loExcl: false, hi: bound(hiD, f.hiExcl, false), hiExcl: false,
      });
    }
    const scale = Math.max(0, loD?.scale ?? 0, hiD?.scale ?? 0);
    return this.make({
      kind: 'number', integer, scale, mult: null,
      lo: loD ? rescale(loD, scale) : null, loExcl: f.loExcl, hi: hiD ? rescale(hiD, scale) : null, hiExcl: f.hiExcl,
    });
  }

  private objectNode(f: Flat): Node {
    const names = [...new Set([...f.props.keys(), ...f.required])];
    const props = new Map<string, Node>();
    for (const k of names) {
      const subs = f.props.get(k) ?? keySubs(f, k);
      props.set(k, subs.some((s) => s.schema === false) ? this.never : this.nodeFor(subs));
    }
    const additional = f.additional.some((s) => s.schema === false) ? null : this.nodeFor(f.additional);
    const patterns = f.patternProps.map((p) => {
      try {
        return { dfa: patternDfa(p.pattern), re: new RegExp(p.pattern, 'u'), node: this.nodeFor(p.subs) };
      } catch (e) {
        if (e instanceof RegexCompileError) throw new SchemaCompileError(e.message, 'patternProperties', f.path);
        throw e;
      }
    });
    let keyNode: StringNode | null = null;
    let maxProps = f.maxProps;
    for (const pn of f.propertyNames) {
      if (pn.schema === false) maxProps = 0;
      else if (pn.schema !== true) {
        const kf = emptyFlat(pn.path);
        applySchema(kf, pn, this.resolver);
        const kn = kf.anyOf.length || kf.enum !== null || kf.notEnum.length || !(kf.types & T_STR) ? null : this.stringNode(kf);
        if (!kn || kn.kind !== 'string' || keyNode) {
          throw new SchemaCompileError('only a single string-constraint propertyNames is supported', 'propertyNames', pn.path);
        }
        keyNode = kn;
      }
    }
    const required = [...f.required].map((k) => names.indexOf(k));
    const closed = additional === null && patterns.length === 0;
    let keyString = keyNode ?? this.plainString;
    if (additional === null && patterns.length) {
      const alts = [...(names.length ? [`^(?:${names.map(escapeRegex).join('|')})$`] : []), ...f.patternProps.map((p) => p.pattern)];
      const kf = emptyFlat(f.path);
      if (keyNode) Object.assign(kf, { minLength: keyNode.minLength, maxLength: keyNode.maxLength });
      const kn = this.stringNode(kf, [alts.join('|')]);
      if (kn.kind !== 'string') return this.never;
      keyString = { ...kn, dfas: [...(keyNode?.dfas ?? []), ...kn.dfas] };
    }
    const node = this.make<Omit<ObjectNode, 'id'>>({
      kind: 'object', names, props, required, patterns, additional, minProps: f.minProps, maxProps, keyNode, keyString, closed,
      keyTrie: new LiteralTrie(names.map((k) => utf8(JSON.stringify(k)))),
      valueFor(key: string): Node | null {
        const own = node.props.get(key);
        if (own) return own.kind === 'never' ? null : own;
        if (node.patterns.length === 0) return node.additional;
        const m = node.patterns.filter((p) => p.re.test(key));
        if (m.length > 1) return null;
        if (m.length === 1) return m[0].node;
        return node.additional;
      },
    });
    return node;
  }

  private arrayNode(f: Flat): Node {
    const prefix = f.prefix.map((l) => (l.some((s) => s.schema === false) ? this.never : this.nodeFor(l)));
    const items = f.items.some((s) => s.schema === false) ? null : this.nodeFor(f.items);
    const node: ArrayNode = this.make({ kind: 'array', prefix, items, minItems: f.minItems, maxItems: f.maxItems });
    return node;
  }

  /** Post-pass: filter literal sets, compute satisfiability, prune unsatisfiable choices, check oneOf. */
  finish(): void {
    // literal sets: least fixpoint of "value accepted by the rest of its schema"
    for (let changed = true; changed; ) {
      changed = false;
      for (const { node, check } of this.literals) {
        const values = check ? node.candidates.filter((v) => literalAccepts(check, v)) : node.candidates;
        if (values.length !== node.values.length) {
          node.values = values;
          node.trie = new LiteralTrie(values.map((v) => utf8(JSON.stringify(v))));
          changed = true;
        }
      }
    }
    const sat = new Set<Node>();
    const isSat = (n: Node) => sat.has(n);
    for (let changed = true; changed; ) {
      changed = false;
      for (const n of this.all) {
        if (!sat.has(n) && satisfiable(n, isSat)) {
          sat.add(n);
          changed = true;
        }
      }
    }
    for (const n of this.all) prune(n, isSat, this.never);
    for (const { alts, path } of this.oneOfs) {
      const live = alts.filter(isSat);
      for (let i = 0; i < live.length; i++) {
        for (let j = i + 1; j < live.length; j++) {
          if (!disjoint(live[i], live[j], 3)) throw new SchemaCompileError('oneOf branches are not provably disjoint', 'oneOf', path);
        }
      }
    }
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`);
}

function lcm(a: bigint, b: bigint): bigint {
  let x = a, y = b;
  while (y) [x, y] = [y, x % y];
  return (a / x) * b;
}
