/**
 * Masks of raw-text bodies (XML parameter values, `RawFrame`) and of freely typed XML parameter
 * names (`XmlNameFrame`). A token made only of JSON-plain content bytes (no `"`, `\`, control
 * byte) means the same in raw text as in a JSON string body, so those come from the shared
 * `PlainMasks`; only the tokens whose first other byte can continue or leave the body (raw text:
 * `"`, `\`, tab, LF, CR; names: `>`) are walked with full states (`GrammarVocab.exitTrie`).
 */
import { strClose, strInit } from '../match/string-matcher.js';
import type { StringNode } from '../schema/schema-node.js';
import { finish, step, type Frame, type RawFrame, type XmlNameFrame } from '../match/value-matcher.js';
import { PlainMasks } from './plain-masks.js';
import type { MaskSplit } from './mask-split.js';
import { RawBodyWalker, rawWalkable } from './raw-body-walk.js';
import type { TrieWalker } from './trie-walk.js';
import type { GrammarVocab } from './vocab.js';

/** 1 for the bytes of JSON-plain string content. */
const JSON_PLAIN = new Uint8Array(256).map((_, b) => (b >= 0x20 && b !== 0x22 && b !== 0x5c ? 1 : 0));
/** JSON-plain bytes but `>`, which ends an XML name. */
const NAME_PLAIN = JSON_PLAIN.map((v, b) => (b === 0x3e ? 0 : v));
const RAW_EXITS = [0x22, 0x5c, 0x09, 0x0a, 0x0d];

/** Split masks for raw-text and XML-name states of one grammar. */
export class RawMasks {
  private readonly body: RawBodyWalker;

  constructor(readonly vocab: GrammarVocab, private readonly plain: PlainMasks, private readonly walker: TrieWalker, private readonly split: MaskSplit) {
    this.body = new RawBodyWalker(vocab);
  }

  /**
   * Sets in `mask` (cleared) the tokens allowed from `f`. Returns false, leaving `mask` clear,
   * when raw text may end here and what follows could start with a plain byte (then a plain
   * token could leave the body, and the caller walks the whole trie).
   */
  fill(f: RawFrame | XmlNameFrame, mask: Uint32Array): boolean {
    if (f.t === 12) {
      if (strClose(f.node.str, f.s) && !exitsOnlyNonPlain(f)) return false;
      const trie = this.vocab.exitTrie('raw', JSON_PLAIN, RAW_EXITS);
      // typed-array walk; else a walk whose part inside the text (not depending on what follows) is memoized
      if (rawWalkable(f)) this.body.walk(trie, f, mask);
      else this.split.cut(f, mask, trie);
      or(mask, this.plain.get(f.node.str, f.s));
    } else {
      or(mask, this.plain.get(f.parent.node.keyString, f.s));
      this.walker.walk(this.vocab.exitTrie('xml-name', NAME_PLAIN, [0x3e]), [f], mask);
    }
    return true;
  }
}

/** True when no JSON-plain byte can start what follows the raw text of `f`. */
function exitsOnlyNonPlain(f: RawFrame): boolean {
  const after = finish(f.parent!);
  if (!after) return true;
  const out: Frame[] = [];
  for (let b = 0x20; b < 0x100 && out.length === 0; b++) if (JSON_PLAIN[b]) step(after, b, out);
  return out.length === 0;
}

/** dst |= src */
function or(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] |= src[i];
}

const warmed = new WeakSet<GrammarVocab>();

/**
 * Builds once per vocabulary what the first masks inside XML calls need (the exit tries, the
 * plain masks of `filter`'s start state), so no mask pays for it (a few hundred ms).
 */
export function warmRawMasks(vocab: GrammarVocab, plain: PlainMasks, filter: StringNode): void {
  if (warmed.has(vocab)) return;
  warmed.add(vocab);
  vocab.exitTrie('raw', JSON_PLAIN, RAW_EXITS);
  vocab.exitTrie('xml-name', NAME_PLAIN, [0x3e]);
  plain.get(filter, strInit(filter));
}
