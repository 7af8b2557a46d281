/**
 * Chat templates (Jinja) rendered with `@huggingface/jinja`, loaded from a model folder.
 *
 * `render` is the plain full render. `renderSegments` renders the same thing but tells which
 * characters came from the template itself (trusted framing) and which from message content or
 * tool definitions (untrusted), so that special-token text typed by a user never becomes a token.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { ChatTemplateError } from './errors.js';
import { ggufTokenizerAt } from './gguf-tokenizer.js';
import { PY_STR, pythonStr, usePythonStringFilter } from './jinja-python.js';
import { toTemplateMessages, type ChatMessage, type TemplateMessage, type ToolDefinition } from './messages.js';
import { toolCallFormatOf, type ToolCallFormatSpec } from './tool-call-formats.js';
import type { TextSegment } from './tokenizer.js';

/** Options of a render. Extra template kwargs go in `kwargs` (e.g. `{ enable_thinking: false }`). */
export interface RenderOptions {
  tools?: readonly ToolDefinition[];
  addGenerationPrompt?: boolean;
  /** Shorthand for `kwargs.enable_thinking` (Qwen3). */
  enableThinking?: boolean;
  kwargs?: Readonly<Record<string, unknown>>;
}

/** Private-use characters that delimit escapes of untrusted text; templates must not contain them. */
const ESC_OPEN = '\uE000';
const ESC_CLOSE = '\uE001';
const ESC_RE = /\uE000(\d+)\uE001/g;

/** Escapes untrusted strings before rendering: every protected string (and the escape char itself) becomes a numbered marker. */
export class Escaper {
  readonly table: string[] = [];
  private readonly re: RegExp;

  constructor(protectedStrings: readonly string[]) {
    const alts = [...protectedStrings, ESC_OPEN].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.re = new RegExp(alts.join('|'), 'g');
  }

  /** Escapes every string inside a JSON-like value (object keys too). */
  value<T>(v: T): T {
    if (typeof v === 'string') return this.string(v) as T;
    if (Array.isArray(v)) return v.map((x) => this.value(x)) as T;
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.string(k)] = this.value(x);
      return out as T;
    }
    return v;
  }

  string(s: string): string {
    return s.replace(this.re, (m) => `${ESC_OPEN}${this.table.push(m) - 1}${ESC_CLOSE}`);
  }

  /** Splits rendered text into trusted framing and the untrusted strings its markers stand for. */
  segments(rendered: string): TextSegment[] {
    const out: TextSegment[] = [];
    let last = 0;
    ESC_RE.lastIndex = 0;
    const framing = (text: string) => {
      if (text.includes(ESC_OPEN) || text.includes(ESC_CLOSE)) {
        throw new ChatTemplateError('the template transforms message content in a way that breaks its escapes (e.g. slicing it); cannot tell framing from content');
      }
      out.push({ text, trusted: true });
    };
    for (let m = ESC_RE.exec(rendered); m !== null; m = ESC_RE.exec(rendered)) {
      if (m.index > last) framing(rendered.slice(last, m.index));
      const original = this.table[Number(m[1])];
      if (original === undefined) throw new ChatTemplateError('template output contains an unknown escape marker');
      out.push({ text: original, trusted: false });
      last = m.index + m[0].length;
    }
    if (last < rendered.length) framing(rendered.slice(last));
    return out;
  }
}

/** A compiled chat template. `x|string` renders as Python's `str(x)` (`True`, `None`), as in transformers. */
export class ChatTemplate {
  private readonly template: Template;
  private readonly pythonStrings: boolean;

  /**
   * @param source Jinja source.
   * @param templateTokens Strings templates may reference (`bos_token`, `eos_token`, …), usually `tokenizer.templateTokens`.
   */
  constructor(readonly source: string, readonly templateTokens: Readonly<Record<string, string>> = {}) {
    if (typeof source !== 'string' || source.length === 0) throw new ChatTemplateError('chat template source is empty');
    if (source.includes(ESC_OPEN) || source.includes(ESC_CLOSE)) throw new ChatTemplateError('chat template contains private-use characters U+E000/U+E001, which the renderer reserves');
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`chat template does not parse: ${(e as Error).message}`);
    }
    this.pythonStrings = usePythonStringFilter(this.template.parsed) > 0;
  }

  /**
   * Loads the template of a model folder: `chat_template.jinja` if present, else `chat_template` of
   * `tokenizer_config.json` (a string, or a list of `{name, template}` from which `name` — default
   * `'default'` — is taken); for a GGUF model (file, or folder holding one) `tokenizer.chat_template`.
   */
  static async fromDir(dir: string, name = 'default'): Promise<ChatTemplate> {
    const gguf = ggufTokenizerAt(dir); // a GGUF model: `tokenizer.chat_template` and its special tokens
    let config: Record<string, any> = gguf?.config ?? {};
    if (gguf) {
      if (typeof config.chat_template !== 'string') throw new ChatTemplateError(`no chat template in ${dir} (GGUF metadata tokenizer.chat_template)`);
    } else try {
      config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ChatTemplateError(`cannot read tokenizer_config.json in ${dir}: ${(e as Error).message}`);
    }
    const tokens: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const v = config[key];
      const s = typeof v === 'string' ? v : typeof v?.content === 'string' ? v.content : undefined;
      if (s !== undefined) tokens[key] = s;
    }
    let source: string | undefined;
    if (gguf) source = config.chat_template;
    else try {
      source = await readFile(join(dir, 'chat_template.jinja'), 'utf8');
    } catch {
      const t = config.chat_template;
      if (typeof t === 'string') source = t;
      else if (Array.isArray(t)) source = t.find((x: any) => x?.name === name)?.template;
    }
    if (source === undefined) throw new ChatTemplateError(`no chat template in ${dir} (chat_template.jinja or tokenizer_config.json chat_template${name !== 'default' ? ` named '${name}'` : ''})`);
    return new ChatTemplate(source, tokens);
  }

  /** The format this template writes tool calls in (XML for Qwen3.5 / Qwen3-Coder, Hermes JSON for Qwen3), if any. */
  get toolCallFormat(): ToolCallFormatSpec | undefined {
    return toolCallFormatOf(this.source);
  }

  /** Full render of a conversation, exactly as `@huggingface/jinja` renders the template. */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    return this.renderTemplateMessages(toTemplateMessages(messages), opts);
  }

  /** Render of already-normalised messages (no validation). */
  renderTemplateMessages(messages: readonly TemplateMessage[], opts: RenderOptions = {}): string {
    const ctx: Record<string, unknown> = { ...this.templateTokens, ...opts.kwargs, messages, add_generation_prompt: opts.addGenerationPrompt ?? false };
    if (opts.enableThinking !== undefined) ctx.enable_thinking = opts.enableThinking;
    if (opts.tools !== undefined && opts.tools.length > 0) ctx.tools = opts.tools;
    if (this.pythonStrings) ctx[PY_STR] = pythonStr;
    try {
      return this.template.render(ctx);
    } catch (e) {
      throw new ChatTemplateError(`chat template failed to render: ${(e as Error).message}`);
    }
  }

  /**
   * Full render split into trusted framing and untrusted text. `protectedStrings` (normally the
   * tokenizer's special-token strings) occurring in messages or tools end up in untrusted segments.
   */
  renderSegments(messages: readonly ChatMessage[], opts: RenderOptions, protectedStrings: readonly string[]): TextSegment[] {
    const esc = new Escaper(protectedStrings);
    const rendered = this.renderTemplateMessages(esc.value(toTemplateMessages(messages)), { ...opts, tools: opts.tools && esc.value(opts.tools) });
    return esc.segments(rendered);
  }
}
