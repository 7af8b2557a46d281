/**
 * A tool's parameters in the XML tool-call form, from its JSON Schema: the schema is compiled
 * with the XML string filter, and each object alternative becomes an `XmlArgsNode` whose derived
 * object node maps every name to its XML value (`xml-values.ts`). Parameter classes are decided
 * per name over all alternatives, so a name is read the same way whichever alternative matched.
 */
import { SchemaCompileError } from '../errors.js';
import { LiteralTrie, utf8 } from '../match/literal-trie.js';
import { patternDfa } from '../regex/byte-dfa.js';
import { compileSchema } from '../schema/schema-compiler.js';
import { deref, syntheticNodeId, type Node, type ObjectNode, type StringNode, type XmlArgsNode } from '../schema/schema-node.js';
import { checkXmlSafe, joinClasses, paramClass, xmlFilter, xmlValueSeq, type ParamClass } from './xml-values.js';
import { QWEN_XML, type XmlDialect } from './xml-dialect.js';

/** A tool compiled for XML calls. */
export interface XmlTool {
  name: string;
  /** The parameters: an `XmlArgsNode`, or a union of them for a schema with several object alternatives. */
  args: Node;
  /** How the value of parameter `name` is written and read. */
  classOf(name: string): ParamClass;
}

/** Freely typed parameter names: no whitespace, `<`, `>`, quote or backslash. */
const FREE_NAME = '^[^\\s<>"\\\\]+$';

/** Can `s` be written as a name in dialect `d` (between `<parameter=` and `>`, `name="` and `"`), and read back the same? */
export function xmlNameWritable(s: string, d: XmlDialect = QWEN_XML): boolean {
  return s !== '' && s === s.trim() && !/[>\r\n]/.test(s) && !s.includes(String.fromCharCode(d.nameEnd)) && !d.forbidden.some((w) => s.includes(w));
}

/** Compiles `parameters` of tool `name` for XML calls. Throws SchemaCompileError naming the tool. */
export function compileXmlTool(name: string, parameters: unknown, d: XmlDialect = QWEN_XML): XmlTool {
  if (!xmlNameWritable(name, d)) throw new SchemaCompileError(`tool name ${JSON.stringify(name)} cannot be written in an XML tool call`, 'name', '#');
  let root: Node;
  try {
    root = compileSchema(parameters, { stringFilter: xmlFilter(d) }).root;
  } catch (e) {
    if (e instanceof SchemaCompileError) throw new SchemaCompileError(`tool ${JSON.stringify(name)}: ${e.message}`, e.keyword, e.path);
    throw e;
  }
  checkXmlSafe(root, name, new Set(), d);
  const objs = objectAlternatives(root);
  if (!objs.length) throw new SchemaCompileError(`tool ${JSON.stringify(name)}: XML tool calls need an object schema for the parameters`, 'type', '#');
  const classes = new Map<string, ParamClass>();
  const classOf = (key: string): ParamClass => {
    let c = classes.get(key);
    if (!c) {
      const nodes = objs.map((o) => o.valueFor(key)).filter((n): n is Node => n !== null);
      classes.set(key, (c = joinClasses(nodes.map(paramClass))));
    }
    return c;
  };
  const alts = objs.map((o) => xmlArgs(o, classOf, name, d)).filter((x): x is XmlArgsNode => x !== null);
  if (!alts.length) throw new SchemaCompileError(`tool ${JSON.stringify(name)}: no parameter set can be written in an XML tool call`, 'required', '#');
  const args: Node = alts.length === 1 ? alts[0] : { kind: 'union', id: syntheticNodeId(), alts };
  return { name, args, classOf };
}

function objectAlternatives(n: Node, out: ObjectNode[] = [], seen = new Set<Node>()): ObjectNode[] {
  const d = deref(n);
  if (seen.has(d)) return out;
  seen.add(d);
  if (d.kind === 'object') out.push(d);
  else if (d.kind === 'union') for (const a of d.alts) objectAlternatives(a, out, seen);
  return out;
}

/** The XML parameters of object node `o`, or null when a required name cannot be written. */
function xmlArgs(o: ObjectNode, classOf: (key: string) => ParamClass, tool: string, d: XmlDialect): XmlArgsNode | null {
  const memo = new Map<string, Node>();
  const seqOf = (n: Node, key: string): Node => {
    const cls = classOf(key);
    const k = `${n.id}/${cls}`;
    let s = memo.get(k);
    if (!s) memo.set(k, (s = xmlValueSeq(n, cls, d)));
    return s;
  };
  const props = new Map<string, Node>();
  for (const k of o.names) {
    const v = o.props.get(k)!;
    const ok = xmlNameWritable(k, d) && deref(v).kind !== 'never';
    const seq = ok ? seqOf(v, k) : null;
    if (seq && seq.kind !== 'never') props.set(k, seq);
    else if (o.required.includes(o.names.indexOf(k))) {
      if (!xmlNameWritable(k, d)) throw new SchemaCompileError(`tool ${JSON.stringify(tool)}: parameter name ${JSON.stringify(k)} cannot be written in an XML tool call`, 'required', '#');
      return null;
    } else props.set(k, { kind: 'never', id: syntheticNodeId() });
  }
  const base = o.keyString;
  const keyString: StringNode = {
    ...base, id: syntheticNodeId(), minLength: Math.max(1, base.minLength),
    dfas: [...base.dfas.filter((f) => f !== xmlFilter(d)), patternDfa(FREE_NAME)],
  };
  const obj: ObjectNode = {
    ...o, id: syntheticNodeId(), props, keyString,
    valueFor(key: string): Node | null {
      if (props.has(key)) return props.get(key)!.kind === 'never' ? null : props.get(key)!;
      const v = xmlNameWritable(key, d) ? o.valueFor(key) : null;
      const s = v && seqOf(v, key);
      return s && s.kind !== 'never' ? s : null;
    },
  };
  // a name that cannot be written gets an empty entry (at the root, never reached)
  const header = (k: string) => utf8(xmlNameWritable(k, d) ? d.paramHead(k) : '');
  const head = new LiteralTrie([...o.names.map(header), utf8(d.argsClose), utf8(d.freeHead)]);
  return { kind: 'xmlargs', id: syntheticNodeId(), obj, head, nameEnd: d.nameEnd };
}

const MAX_TOOLS = 64;
const compiled = new Map<string, XmlTool>();

/** `compileXmlTool`, memoized by dialect, name and schema text (LRU of MAX_TOOLS): the grammar and the call reader share one compilation. */
export function xmlTool(t: { name: string; parameters?: unknown }, d: XmlDialect = QWEN_XML): XmlTool {
  const key = JSON.stringify([d.name, t.name, t.parameters]);
  let x = compiled.get(key);
  if (x) compiled.delete(key);
  else x = compileXmlTool(t.name, t.parameters ?? { type: 'object', properties: {} }, d);
  compiled.set(key, x);
  if (compiled.size > MAX_TOOLS) compiled.delete(compiled.keys().next().value!);
  return x;
}
