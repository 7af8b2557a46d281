/**
 * Tool-call framing as a `TokenConstraint`, in the chat template's tool-call format (engine/tokens/tool-formats/:
 * its call tags, stop tokens and body grammar):
 *   free text / `<think>…</think>` → callOpen → a call body (`call-grammar.ts`: e.g. Qwen3's JSON
 *   `\n{"name": "<tool>", "arguments": ` ARGS `}\n`, or the XML form of Qwen3.5 / 3.6 / Coder
 *   `\n<function=<tool>>\n<parameter=P>\nVALUE\n</parameter>\n…</function>\n`)
 *   → callClose → (whitespace, another call if parallel) → an end-of-turn token (the format's, else `<|im_end|>` and kin).
 * `toolChoice`: 'auto' (lazy: free text until the call tag), 'none' (call tokens masked out),
 * 'required' (a call is the answer; thinking first if enabled), or a named function (forced).
 * `responseFormat` json_schema / json_object constrains the whole answer to one JSON value.
 */
import { GrammarError } from '../errors.js';
import { Grammar, defaultStops, forcedFrom, forcedTokensOf, schemaGrammar, type TokenConstraint } from '../mask/matcher.js';
import { stepBytes } from '../mask/mask-engine.js';
import { canEnd, type Frame } from '../match/value-matcher.js';
import type { GrammarVocab } from '../mask/vocab.js';
import { toolCallFormat } from '../../tokens/tool-call-formats.js';
import { callGrammar, type CallFormat } from './call-grammar.js';

export { callGrammar, type CallFormat } from './call-grammar.js';

/** A tool as the OpenAI API sends it, or just `{name, parameters}`. */
export type ToolSpec =
  | { type: 'function'; function: { name: string; parameters?: unknown } }
  | { name: string; parameters?: unknown };

export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } } | { name: string };

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: { schema?: unknown; name?: string } };

export interface ToolCallOptions {
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  /** Allow several calls in one turn (default true). */
  parallelToolCalls?: boolean;
  /** The model may think (`<think>…</think>`) before a forced call or JSON answer. */
  thinking?: boolean;
  /** The prompt already opened `<think>` (Qwen3.5 / 3.6 generation prompts end in `<think>\n`): the output starts inside reasoning. */
  startInReasoning?: boolean;
  responseFormat?: ResponseFormat;
  /** The tool-call format (default Hermes JSON): the chat template's (`template.toolCallFormat`), or a registered name ('json', 'xml', 'minimax', …). */
  format?: CallFormat;
}

/** Bad tool-call options (unknown tool name, duplicate tools, json with tools forced). */
export class ToolConstraintError extends GrammarError {
  override name = 'ToolConstraintError';
  override code = 'invalid_tool_constraint';
  override status = 400;
  override param: string | null = 'tool_choice';
}

type Mode = 'free' | 'pre' | 'think' | 'call' | 'between' | 'json' | 'end';
interface Snap {
  mode: Mode;
  states: Frame[] | null;
  calls: number;
  ws: number;
  thought: boolean;
}

const MAX_WS_TOKENS = 2;
let seqIds = 1_000_000_000;

/** Builds the constraint for one assistant turn. Throws SchemaCompileError for a tool schema it refuses. */
export function createToolCallConstraint(opts: ToolCallOptions, vocab: GrammarVocab): TokenConstraint {
  return new ToolCallConstraint(opts, vocab);
}

const VOCAB_SETS = new WeakMap<GrammarVocab, { free: Uint32Array; wsTokens: number[] }>();

/** Per vocabulary, computed once (two passes over it): the non-special tokens with bytes, and the short whitespace tokens. Read-only. */
function vocabSets(vocab: GrammarVocab): { free: Uint32Array; wsTokens: number[] } {
  let v = VOCAB_SETS.get(vocab);
  if (!v) {
    const free = vocab.newMask();
    const wsTokens: number[] = [];
    for (let t = 0; t < vocab.bytes.length; t++) {
      const b = vocab.bytes[t];
      if (vocab.special[t] || !b.length) continue;
      free[t >>> 5] |= 1 << (t & 31);
      if (b.length <= 2 && b.every((x) => x === 0x0a || x === 0x20)) wsTokens.push(t);
    }
    v = { free, wsTokens };
    VOCAB_SETS.set(vocab, v);
  }
  return v;
}

class ToolCallConstraint implements TokenConstraint {
  readonly vocabSize: number;
  private readonly hist: Snap[];
  private readonly grammar: Grammar | null;
  private readonly kind: 'tools' | 'json' | 'text';
  private readonly ids: { call: number; endCall: number; think: number; endThink: number; stops: number[] };
  private readonly choice: 'auto' | 'none' | 'required';
  private readonly parallel: boolean;
  private readonly free: Uint32Array;
  /** The free-text masks (one per combination of extra tags), built once: a token's mask allocates nothing. */
  private readonly freeMasks: (Uint32Array | undefined)[] = [];
  private readonly wsTokens: number[];

  constructor(opts: ToolCallOptions, private readonly vocab: GrammarVocab) {
    this.vocabSize = vocab.size;
    const id = (c: string) => {
      const x = vocab.addedTokenId(c);
      if (x === undefined) throw new ToolConstraintError(`the vocabulary has no ${c} token`);
      return x;
    };
    const f = toolCallFormat(opts.format ?? 'json');
    const stops = defaultStops(vocab, f.stopTexts);
    if (!stops.length) throw new ToolConstraintError(`the vocabulary has no end-of-turn token`);
    this.ids = { call: id(f.callOpen), endCall: id(f.callClose), think: id(f.thinkOpen), endThink: id(f.thinkClose), stops };
    this.parallel = opts.parallelToolCalls !== false;
    const tools = (opts.tools ?? []).map(normTool);
    const rf = opts.responseFormat;
    let choice = opts.toolChoice ?? 'auto';
    if (rf && rf.type !== 'text' && (choice === 'none' || tools.length === 0)) {
      this.kind = 'json';
      const schema = rf.type === 'json_object' ? { type: 'object' } : (rf.json_schema.schema ?? {});
      this.grammar = schemaGrammar(schema, vocab);
      this.choice = 'required';
    } else if (tools.length === 0 || choice === 'none') {
      this.kind = 'text';
      this.grammar = null;
      this.choice = 'none';
    } else {
      this.kind = 'tools';
      let selected = tools;
      if (typeof choice === 'object') {
        const name = 'function' in choice ? choice.function.name : choice.name;
        selected = tools.filter((t) => t.name === name);
        if (!selected.length) throw new ToolConstraintError(`tool_choice names unknown tool ${JSON.stringify(name)}`);
        choice = 'required';
      }
      if (new Set(tools.map((t) => t.name)).size !== tools.length) throw new ToolConstraintError('duplicate tool names');
      this.grammar = callGrammar(selected, vocab, f);
      this.choice = choice as 'auto' | 'required';
    }
    ({ free: this.free, wsTokens: this.wsTokens } = vocabSets(vocab));
    const inThink = opts.startInReasoning === true;
    const first: Mode = inThink ? 'think' : this.choice === 'required' ? 'pre' : 'free';
    this.hist = [{ mode: first, states: null, calls: 0, ws: 0, thought: inThink }];
    if (this.kind === 'json' && !opts.thinking && !inThink) this.hist[0] = { ...this.hist[0], mode: 'json', states: this.grammar!.start() };
    this.thinking = opts.thinking === true || inThink;
  }
  private readonly thinking: boolean;

  private get cur(): Snap {
    return this.hist[this.hist.length - 1];
  }

  mask(): Uint32Array {
    const s = this.cur;
    const set = (m: Uint32Array, t: number) => (m[t >>> 5] |= 1 << (t & 31));
    switch (s.mode) {
      case 'free': {
        const call = this.kind === 'tools' && (this.parallel || s.calls === 0);
        const think = this.thinking && !s.thought && s.calls === 0;
        return this.freeMask(Number(call) + 2 * Number(think), (m) => {
          if (call) set(m, this.ids.call);
          if (think) set(m, this.ids.think), set(m, this.ids.endThink);
          for (const t of this.ids.stops) set(m, t);
        });
      }
      case 'think':
        return this.freeMask(4, (m) => set(m, this.ids.endThink));
      case 'pre': {
        const m = this.vocab.newMask();
        if (this.thinking && !s.thought) set(m, this.ids.think);
        if (s.ws < MAX_WS_TOKENS) for (const t of this.wsTokens) set(m, t);
        if (this.kind === 'tools') set(m, this.ids.call);
        else {
          const g = this.grammar!.engine.mask(this.grammar!.start());
          for (let i = 0; i < m.length; i++) m[i] |= g[i];
        }
        return m;
      }
      case 'call': {
        if (s.states!.some(canEnd)) {
          const m = this.vocab.newMask();
          set(m, this.ids.endCall);
          return m;
        }
        return this.grammar!.engine.mask(s.states!);
      }
      case 'json': {
        const g = this.grammar!.engine.mask(s.states!);
        if (!s.states!.some(canEnd)) return g;
        const m = g.slice();
        for (const t of this.ids.stops) set(m, t);
        return m;
      }
      case 'between': {
        const m = this.vocab.newMask();
        if (s.ws < MAX_WS_TOKENS) for (const t of this.wsTokens) set(m, t);
        if (this.parallel) set(m, this.ids.call);
        for (const t of this.ids.stops) set(m, t);
        return m;
      }
      case 'end':
        return this.vocab.newMask();
    }
  }

  private freeMask(key: number, add: (m: Uint32Array) => void): Uint32Array {
    let m = this.freeMasks[key];
    if (!m) {
      m = this.free.slice();
      add(m);
      this.freeMasks[key] = m;
    }
    return m;
  }

  accept(token: number): boolean {
    const next = this.next(this.cur, token);
    if (!next) return false;
    this.hist.push(next);
    return true;
  }

  private next(s: Snap, t: number): Snap | null {
    const v = this.vocab;
    if (t < 0 || t >= v.size) return null;
    const { call, endCall, think, endThink, stops } = this.ids;
    const text = t < v.bytes.length && !v.special[t] && v.bytes[t].length > 0;
    const isStop = stops.includes(t);
    switch (s.mode) {
      case 'free':
        if (text) return s;
        if (t === call && this.kind === 'tools' && (this.parallel || s.calls === 0)) return { ...s, mode: 'call', states: this.grammar!.start() };
        if (this.thinking && !s.thought && s.calls === 0 && (t === think || t === endThink)) return { ...s, mode: t === think ? 'think' : 'free', thought: true };
        if (isStop) return { ...s, mode: 'end' };
        return null;
      case 'think':
        if (text) return s;
        if (t === endThink) return { ...s, mode: this.choice === 'required' ? 'pre' : 'free', ws: 0 };
        return null;
      case 'pre':
        if (t === think && this.thinking && !s.thought) return { ...s, mode: 'think', thought: true };
        if (this.wsTokens.includes(t) && s.ws < MAX_WS_TOKENS) return { ...s, ws: s.ws + 1 };
        if (this.kind === 'tools') return t === call ? { ...s, mode: 'call', states: this.grammar!.start() } : null;
        return this.jsonStep({ ...s, mode: 'json', states: this.grammar!.start() }, t);
      case 'call':
        if (s.states!.some(canEnd)) return t === endCall ? { ...s, mode: 'between', states: null, calls: s.calls + 1, ws: 0 } : null;
        return this.jsonStep(s, t);
      case 'json':
        if (isStop) return s.states!.some(canEnd) ? { ...s, mode: 'end' } : null;
        return this.jsonStep(s, t);
      case 'between':
        if (this.wsTokens.includes(t) && s.ws < MAX_WS_TOKENS) return { ...s, ws: s.ws + 1 };
        if (t === call && this.parallel) return { ...s, mode: 'call', states: this.grammar!.start() };
        if (isStop) return { ...s, mode: 'end' };
        return null;
      case 'end':
        return null;
    }
  }

  private jsonStep(s: Snap, t: number): Snap | null {
    const v = this.vocab;
    if (t >= v.bytes.length || v.special[t]) return null;
    const states = stepBytes(s.states!, v.bytes[t]);
    return states ? { ...s, states } : null;
  }

  rollback(n: number): void {
    if (n < 0 || n > this.hist.length - 1) throw new GrammarError(`cannot roll back ${n} tokens (have ${this.hist.length - 1})`);
    this.hist.length -= n;
  }

  isComplete(): boolean {
    const s = this.cur;
    if (s.mode === 'end') return true;
    if (s.mode === 'json') return s.states!.some(canEnd);
    if (s.mode === 'between') return true;
    return s.mode === 'free' && this.choice !== 'required';
  }

  isTerminated(): boolean {
    return this.cur.mode === 'end';
  }

  forcedBytes(): Uint8Array {
    const s = this.cur;
    if ((s.mode === 'call' || s.mode === 'json') && s.states) return forcedFrom(s.states);
    return new Uint8Array(0);
  }

  forcedTokens(): number[] {
    const s = this.cur;
    if (s.mode === 'call' && s.states!.some(canEnd)) return [this.ids.endCall];
    if (s.mode === 'pre' && this.kind === 'tools' && !this.thinking) return [this.ids.call];
    return forcedTokensOf(this.vocab, this.forcedBytes());
  }
}

function normTool(t: ToolSpec): { name: string; parameters: unknown } {
  const f = 'function' in t ? t.function : t;
  if (!f || typeof f.name !== 'string' || !f.name) throw new ToolConstraintError('a tool needs a name');
  return { name: f.name, parameters: f.parameters ?? { type: 'object', properties: {} } };
}
