/**
 * The grammar of one tool-call body (what comes between `<tool_call>` and `</tool_call>`), as a
 * union over the allowed tools, in either format:
 * - 'json' (Qwen3): `\n{"name": "<tool>", "arguments": ` ARGS `}\n`
 * - 'xml' (Qwen3.5 / Qwen3.6 / Qwen3-Coder): `\n<function=<tool>>\n` PARAMETERS `</function>\n`
 *   (see `xml-args.ts`);
 * - 'minimax' (MiniMax-M2, between `<minimax:tool_call>` and `</minimax:tool_call>`): `\n<invoke name="<tool>">\n`
 *   (`<parameter name="P">VALUE</parameter>\n`)* `</invoke>\n` (xml-dialect.ts).
 * Compiled grammars are memoized per vocabulary: an agent resends the same tools every turn, and
 * their masks stay memoized.
 */
import { SchemaCompileError } from '../errors.js';
import { Grammar } from '../mask/matcher.js';
import { utf8 } from '../match/literal-trie.js';
import { compileSchema } from '../schema/schema-compiler.js';
import { syntheticNodeId, type Node, type SeqNode } from '../schema/schema-node.js';
import type { GrammarVocab } from '../mask/vocab.js';
import { xmlTool } from './xml-args.js';
import { MINIMAX_XML, QWEN_XML, type XmlDialect } from './xml-dialect.js';
import { xmlFilter } from './xml-values.js';
import { PlainMasks } from '../mask/plain-masks.js';
import { warmRawMasks } from '../mask/raw-walk.js';

/** Tool-call body formats: Qwen3's JSON, Qwen's XML, MiniMax-M2's `<invoke>` (xml-dialect.ts). */
export type CallFormat = 'json' | 'xml' | 'minimax';

/** The XML dialect of a format (undefined for JSON). */
export function xmlDialectOf(format: CallFormat): XmlDialect | undefined {
  return format === 'xml' ? QWEN_XML : format === 'minimax' ? MINIMAX_XML : undefined;
}

/** A tool as the grammar needs it. */
export interface ToolDef {
  name: string;
  parameters: unknown;
}

const CALL_GRAMMARS = 32;
const callGrammars = new WeakMap<GrammarVocab, Map<string, Grammar>>();

/** The call grammar of a tool list, memoized per vocabulary (LRU of CALL_GRAMMARS). */
export function callGrammar(tools: ToolDef[], vocab: GrammarVocab, format: CallFormat = 'json'): Grammar {
  let m = callGrammars.get(vocab);
  if (!m) callGrammars.set(vocab, (m = new Map()));
  const key = JSON.stringify([format, tools.map((t) => [t.name, t.parameters])]);
  let g = m.get(key);
  if (g) m.delete(key);
  else {
    const d = xmlDialectOf(format);
    g = new Grammar(d ? xmlCallNode(tools, d) : jsonCallNode(tools), vocab, undefined, false);
    if (d) warmRawMasks(vocab, new PlainMasks(vocab), { kind: 'string', id: syntheticNodeId(), minLength: 0, maxLength: Infinity, dfas: [xmlFilter(d)] });
  }
  m.set(key, g);
  if (m.size > CALL_GRAMMARS) m.delete(m.keys().next().value!);
  return g;
}

function union(alts: Node[]): Node {
  return alts.length === 1 ? alts[0] : { kind: 'union', id: syntheticNodeId(), alts };
}

/** Union over tools of `\n{"name": "<name>", "arguments": ` ARGS `}\n`. */
function jsonCallNode(tools: ToolDef[]): Node {
  return union(
    tools.map((t) => {
      let args: Node;
      try {
        args = compileSchema(t.parameters).root;
      } catch (e) {
        if (e instanceof SchemaCompileError) throw new SchemaCompileError(`tool ${JSON.stringify(t.name)}: ${e.message}`, e.keyword, e.path);
        throw e;
      }
      const seq: SeqNode = { kind: 'seq', id: syntheticNodeId(), parts: [utf8(`\n{"name": ${JSON.stringify(t.name)}, "arguments": `), args, utf8('}\n')] };
      return seq;
    }),
  );
}

/** Union over tools of `\n<function=<name>>\n` PARAMETERS (which end with `</function>\n`), or another dialect's call head and parameters. */
function xmlCallNode(tools: ToolDef[], d: XmlDialect): Node {
  return union(
    tools.map((t) => {
      const x = xmlTool(t, d);
      const seq: SeqNode = { kind: 'seq', id: syntheticNodeId(), parts: [utf8(d.callHead(t.name)), x.args], tight: true };
      return seq;
    }),
  );
}
