/**
 * The grammar of one tool-call body (what comes between the format's call tags), as a union over the allowed tools,
 * in the form the tool-call format declares (engine/tokens/tool-formats/: its `grammar`):
 * - JSON: `callHead(NAME)` ARGS `callTail` (Qwen3's `\n{"name": "<tool>", "arguments": ` ARGS `}\n`);
 * - XML-like: the dialect's `callHead(NAME)` PARAMETERS (see `xml-args.ts`; Qwen3.5 / 3.6 / Coder's
 *   `\n<function=<tool>>\n` …, MiniMax-M2's `\n<invoke name="<tool>">\n` …).
 * Compiled grammars are memoized per vocabulary: an agent resends the same tools every turn, and
 * their masks stay memoized.
 */
import { SchemaCompileError } from '../errors.js';
import { Grammar } from '../mask/matcher.js';
import { utf8 } from '../match/literal-trie.js';
import { compileSchema } from '../schema/schema-compiler.js';
import { syntheticNodeId, type Node, type SeqNode } from '../schema/schema-node.js';
import type { GrammarVocab } from '../mask/vocab.js';
import { toolCallFormat, type ToolCallFormat, type ToolCallFormatSpec } from '../../tokens/tool-call-formats.js';
import { xmlTool } from './xml-args.js';
import type { XmlDialect } from './xml-dialect.js';
import { xmlFilter } from './xml-values.js';
import { PlainMasks } from '../mask/plain-masks.js';
import { warmRawMasks } from '../mask/raw-walk.js';

/** A tool-call format, by name or alias ('json', 'xml', 'minimax', 'hermes', …) or spec. */
export type CallFormat = ToolCallFormat | ToolCallFormatSpec;

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
  const f = toolCallFormat(format);
  const key = JSON.stringify([f.name, tools.map((t) => [t.name, t.parameters])]);
  let g = m.get(key);
  if (g) m.delete(key);
  else {
    const form = f.grammar;
    const d = form.kind === 'xml' ? form.dialect : undefined;
    g = new Grammar(form.kind === 'xml' ? xmlCallNode(tools, form.dialect) : jsonCallNode(tools, form.callHead, form.callTail), vocab, undefined, false);
    if (d) warmRawMasks(vocab, new PlainMasks(vocab), { kind: 'string', id: syntheticNodeId(), minLength: 0, maxLength: Infinity, dfas: [xmlFilter(d)] });
  }
  m.set(key, g);
  if (m.size > CALL_GRAMMARS) m.delete(m.keys().next().value!);
  return g;
}

function union(alts: Node[]): Node {
  return alts.length === 1 ? alts[0] : { kind: 'union', id: syntheticNodeId(), alts };
}

/** Union over tools of `head(<name>)` ARGS `tail` (Qwen3: `\n{"name": "<name>", "arguments": ` ARGS `}\n`). */
function jsonCallNode(tools: ToolDef[], head: (name: string) => string, tail: string): Node {
  return union(
    tools.map((t) => {
      let args: Node;
      try {
        args = compileSchema(t.parameters).root;
      } catch (e) {
        if (e instanceof SchemaCompileError) throw new SchemaCompileError(`tool ${JSON.stringify(t.name)}: ${e.message}`, e.keyword, e.path);
        throw e;
      }
      const seq: SeqNode = { kind: 'seq', id: syntheticNodeId(), parts: [utf8(head(t.name)), args, utf8(tail)] };
      return seq;
    }),
  );
}

/** Union over tools of the dialect's call head and PARAMETERS (which end with its `argsClose`). */
function xmlCallNode(tools: ToolDef[], d: XmlDialect): Node {
  return union(
    tools.map((t) => {
      const x = xmlTool(t, d);
      const seq: SeqNode = { kind: 'seq', id: syntheticNodeId(), parts: [utf8(d.callHead(t.name)), x.args], tight: true };
      return seq;
    }),
  );
}
