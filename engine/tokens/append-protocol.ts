/**
 * The append-only token protocol.
 *
 * A session's history is the token ids actually in its KV slot; they are never re-rendered. To add
 * messages we render them through the real template after a short stand-in conversation that puts
 * the template in the same state as the real history (same last message role), ending in a unique
 * marker. The text after the marker, minus what the stand-in alone renders after it (the closing of
 * its last message, already in the history), is exactly the framing + content of the new messages.
 * Cost depends only on the new messages and the tool list, never on the history length.
 *
 * State carried between calls is a {@link Tail}: the role of the last complete message (or
 * 'generating' while an assistant turn is open). The sessions layer stores it beside the tokens.
 *
 * Templates that refuse a conversation without a user query (Qwen3.5: "No user query found") cannot
 * render a lone system prompt. There the render is done with a probe user message after the messages,
 * and the probe's own rendering — what a user message renders as after a closed user turn — is cut off
 * the end (checked to be there, else AppendProtocolError). Assistant turns keep their think blocks in
 * the history (never re-rendered), although Qwen3 and Qwen3.5 re-render turns before the last user
 * query without them: the history reads as the model produced it.
 */
import { AppendProtocolError, ChatTemplateError } from './errors.js';
import { ChatTemplate, Escaper, type RenderOptions } from './chat-template.js';
import { toTemplateMessages, type ChatMessage, type TemplateMessage, type ToolDefinition } from './messages.js';
import type { TextSegment, Tokenizer } from './tokenizer.js';

/**
 * What the history ends with: nothing; a first system message (prompt header); a later system note;
 * a closed user / assistant / tool-result turn; or an open assistant turn (generation prompt appended,
 * generated tokens follow until {@link AppendProtocol.closeAssistantTurn}).
 */
export type Tail = 'empty' | 'system' | 'system-note' | 'user' | 'assistant' | 'tool' | 'generating';

/** Options of an append: the session's tools and template kwargs (same every turn), and whether to open an assistant turn. */
export interface AppendOptions {
  tools?: readonly ToolDefinition[];
  addGenerationPrompt?: boolean;
  /** Qwen3: false appends an empty think block after the generation prompt. */
  enableThinking?: boolean;
  kwargs?: Readonly<Record<string, unknown>>;
}

/** Tokens to append (and their text), and the tail after them. */
export interface AppendResult {
  tokens: number[];
  text: string;
  tail: Tail;
}

/** Unique marker ending the stand-in history; never produced by escaping (escapes are numbered). */
const MARK = '\uE000M\uE001';
/** Content of the probe user message (see the file comment). */
const PROBE = '\uE000P\uE001';

/** A stand-in context: a tail, or 'assistant-call' — an assistant turn that called a tool (what tool results follow). */
type StandIn = Exclude<Tail, 'empty' | 'generating'> | 'assistant-call';

function standIn(tail: StandIn): TemplateMessage[] {
  switch (tail) {
    case 'system':
      return [{ role: 'system', content: MARK }];
    case 'system-note':
      return [{ role: 'user', content: 'u' }, { role: 'system', content: MARK }];
    case 'user':
      return [{ role: 'user', content: MARK }];
    case 'assistant':
      return [{ role: 'user', content: 'u' }, { role: 'assistant', content: MARK }];
    case 'assistant-call': // templates that refuse tool results after an assistant turn without calls (MiniMax-M2)
      return [{ role: 'user', content: 'u' }, { role: 'assistant', content: MARK, tool_calls: [{ type: 'function', function: { name: 'f', arguments: {} } }] }];
    case 'tool':
      return [
        { role: 'user', content: 'u' },
        { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'f', arguments: {} } }] },
        { role: 'tool', content: MARK },
      ];
  }
}

/** Builds appends for one tokenizer + template pair. Stateless apart from small caches; share it between sessions. */
export class AppendProtocol {
  private readonly protectedStrings: string[];
  private readonly closingCache = new Map<string, string>();

  /** Most tokens one append may produce (the slot's capacity); a text provably longer is refused (TokenBudgetError) before BPE runs. */
  maxTokens: number | undefined;

  constructor(readonly tokenizer: Tokenizer, readonly template: ChatTemplate) {
    this.protectedStrings = tokenizer.specialTokenStrings();
  }

  /**
   * Tokens that append `messages` (user, tool results — consecutive ones form one turn —, system
   * notes, or any role the template renders) after a history ending in `tail`, optionally followed by
   * the generation prompt. history + result.tokens is what the template renders for that history.
   * Throws AppendProtocolError if the template would have to change text already in the history.
   */
  append(tail: Tail, messages: readonly ChatMessage[], opts: AppendOptions = {}): AppendResult {
    const r = this.render(tail, messages, opts);
    return { tokens: this.tokenizer.encodeSegments(r.segments, { maxTokens: this.maxTokens }), text: r.text, tail: r.tail };
  }

  /** {@link append} with the tokenizing done in slices, so megabytes of content never hold the event loop (same tokens). */
  async appendAsync(tail: Tail, messages: readonly ChatMessage[], opts: AppendOptions = {}): Promise<AppendResult> {
    const r = this.render(tail, messages, opts);
    return { tokens: await this.tokenizer.encodeSegmentsAsync(r.segments, { maxTokens: this.maxTokens }), text: r.text, tail: r.tail };
  }

  /** The text of an append, as segments (special tokens recognised only in the template's framing), and the tail after it. */
  private render(tail: Tail, messages: readonly ChatMessage[], opts: AppendOptions): { segments: TextSegment[]; text: string; tail: Tail } {
    if (tail === 'generating') throw new AppendProtocolError('the assistant turn is still open: close it (closeAssistantTurn) before appending messages');
    const msgs = toTemplateMessages(messages);
    if (msgs.length === 0 && !opts.addGenerationPrompt) return { segments: [], text: '', tail };
    const esc = new Escaper(this.protectedStrings);
    const renderOpts: RenderOptions = { ...opts, tools: opts.tools && esc.value(opts.tools) };
    const escaped = esc.value(msgs);
    let text: string;
    if (tail === 'empty') {
      text = this.renderAfter(null, escaped, renderOpts);
    } else {
      // tool results follow an assistant turn that called tools (its calls are in the history, generated)
      const context: StandIn = tail === 'assistant' && msgs[0]?.role === 'tool' ? 'assistant-call' : tail;
      const after = this.renderAfter(standIn(context), escaped, renderOpts);
      const closing = this.closing(context, renderOpts);
      if (!after.startsWith(closing)) {
        throw new AppendProtocolError(
          `the template renders these messages by changing the end of the previous ${tail} turn (${JSON.stringify(closing)}), which is already in the history` +
            (tail === 'tool' && msgs[0]?.role === 'tool' ? '; append all tool results of a turn in one call' : ''),
        );
      }
      text = after.slice(closing.length);
    }
    const segments = esc.segments(text);
    return { segments, text: segments.map((s) => s.text).join(''), tail: opts.addGenerationPrompt ? 'generating' : nextTail(tail, msgs) };
  }

  /** The generation prompt alone (e.g. `<|im_start|>assistant\n`, plus `<think>\n\n</think>\n\n` with enableThinking false). */
  generationPrompt(tail: Tail, opts: Omit<AppendOptions, 'addGenerationPrompt'> = {}): AppendResult {
    return this.append(tail, [], { ...opts, addGenerationPrompt: true });
  }

  /**
   * Tokens that close a generated assistant turn (`<|im_end|>\n` for ChatML), minus the part the
   * generated ids already end with (e.g. the `<|im_end|>` stop token if it was kept). Tail becomes 'assistant'.
   */
  closeAssistantTurn(generated: readonly number[], opts: AppendOptions = {}): AppendResult {
    const text = this.closing('assistant', { ...opts, addGenerationPrompt: false });
    const closing = this.tokenizer.encode(text, { allowSpecial: true });
    let k = Math.min(closing.length, generated.length);
    for (; k > 0; k--) {
      let same = true;
      for (let i = 0; i < k && same; i++) same = closing[i] === generated[generated.length - k + i];
      if (same) break;
    }
    const tokens = closing.slice(k);
    return { tokens, text: this.tokenizer.decode(tokens), tail: 'assistant' };
  }

  /** A raw document appended without any framing; special-token text in it stays plain. Tail is unchanged. */
  appendRaw(tail: Tail, text: string): AppendResult {
    return { tokens: this.tokenizer.encodeSegments([{ text, trusted: false }], { maxTokens: this.maxTokens }), text, tail };
  }

  /** {@link appendRaw} with the tokenizing done in slices (see {@link appendAsync}). */
  async appendRawAsync(tail: Tail, text: string): Promise<AppendResult> {
    return { tokens: await this.tokenizer.encodeSegmentsAsync([{ text, trusted: false }], { maxTokens: this.maxTokens }), text, tail };
  }

  /**
   * Text the template renders after the marker of `context + messages` (all of it for a null context).
   * When the template refuses to render that without a user query, renders it followed by a probe
   * user message and cuts the probe's rendering off.
   */
  private renderAfter(context: TemplateMessage[] | null, messages: TemplateMessage[], opts: RenderOptions): string {
    try {
      return this.afterMark(context, messages, opts);
    } catch (e) {
      if (!(e instanceof ChatTemplateError) || opts.addGenerationPrompt) throw e;
      let withProbe: string;
      let probe: string;
      try {
        withProbe = this.afterMark(context, [...messages, { role: 'user', content: PROBE }], opts);
        probe = this.probeRendering(opts);
      } catch {
        throw e; // the probe does not help: the template's own refusal is the error
      }
      if (!withProbe.endsWith(probe)) {
        throw new AppendProtocolError(`the template renders a user message after these messages unlike after a user turn (${JSON.stringify(probe)}), so it cannot render them on their own: ${e.message}`);
      }
      return withProbe.slice(0, withProbe.length - probe.length);
    }
  }

  /** What a user message with the probe content renders as after a closed user turn (framing, content, closing). */
  private probeRendering(opts: RenderOptions): string {
    const plain = { ...opts, addGenerationPrompt: false };
    const closing = this.afterMark(standIn('user'), [], plain);
    const after = this.afterMark(standIn('user'), [{ role: 'user', content: PROBE }], plain);
    if (!after.startsWith(closing)) throw new AppendProtocolError('the template changes the end of a user turn when another user message follows');
    return after.slice(closing.length);
  }

  /** Text the template renders after the marker of `context + messages` (all of it for a null context). */
  private afterMark(context: TemplateMessage[] | null, messages: TemplateMessage[], opts: RenderOptions): string {
    const rendered = this.template.renderTemplateMessages([...(context ?? []), ...messages], opts);
    if (context === null) return rendered;
    const at = rendered.indexOf(MARK);
    if (at < 0 || rendered.indexOf(MARK, at + 1) >= 0) {
      throw new AppendProtocolError('cannot isolate the framing of new messages: the template does not render message content verbatim exactly once');
    }
    return rendered.slice(at + MARK.length);
  }

  /** What the template renders after the content of the tail's last message when nothing follows. */
  private closing(tail: StandIn, opts: RenderOptions): string {
    const key = `${tail}\u0000${JSON.stringify(opts.tools ?? null)}\u0000${JSON.stringify(opts.kwargs ?? null)}\u0000${opts.enableThinking}`;
    let closing = this.closingCache.get(key);
    if (closing === undefined) {
      closing = this.renderAfter(standIn(tail), [], { ...opts, addGenerationPrompt: false });
      if (this.closingCache.size > 64) this.closingCache.clear();
      this.closingCache.set(key, closing);
    }
    return closing;
  }
}

function nextTail(tail: Tail, msgs: TemplateMessage[]): Tail {
  const last = msgs[msgs.length - 1];
  if (last === undefined) return tail;
  if (last.role === 'system') return tail === 'empty' && msgs.length === 1 ? 'system' : 'system-note';
  return last.role;
}
