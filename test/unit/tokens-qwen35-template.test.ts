import { existsSync, readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, type RenderOptions } from '../../engine/tokens/chat-template.js';
import { ChatTemplateError, MessageFormatError, UnsupportedContentError } from '../../engine/tokens/errors.js';
import { pythonFloatRepr } from '../../engine/tokens/jinja-python.js';
import { toTemplateMessages, type ChatMessage } from '../../engine/tokens/messages.js';
import { QWEN35_CHAT_TEMPLATE } from '../../engine/tokens/qwen35-chat-template.js';
import { toErrorResponse } from '../../runtime/http/errors.js';
import { PYTHON_JINJA_MISSING, renderWithPython } from '../support/python-jinja.js';
import { QWEN35_TOOLS } from './tokens-qwen35-shared.js';
import { TEMPLATES_DIR } from './tokens-shared.js';

if (PYTHON_JINJA_MISSING) console.warn(`Qwen3.5 template: comparisons with Python's jinja2 skipped: ${PYTHON_JINJA_MISSING}`);
const SHARED_FILE = `${TEMPLATES_DIR}/Qwen3.5-4B.jinja`;

const TOOL_CALL_HISTORY: ChatMessage[] = [
  { role: 'system', content: '  You are careful.  ' },
  { role: 'user', content: 'Write the notes, then search.' },
  {
    role: 'assistant',
    content: 'Writing first.',
    reasoning_content: '\nThe user wants two things.\n',
    tool_calls: [
      { id: 'a', type: 'function', function: { name: 'write_file', arguments: JSON.stringify({ path: '/tmp/n.md', content: 'line 1\n  line 2 "quoted" 🚀\n', mode: 420, append: true, tags: ['x', "it's"] }) } },
      { id: 'b', type: 'function', function: { name: 'search', arguments: { query: 'qwen 3.5', limit: null, opts: { lang: 'en', safe: false, ratio: 0.25 }, score: 1e-7 } } },
    ],
  },
  { role: 'tool', tool_call_id: 'a', content: 'ok' },
  { role: 'tool', tool_call_id: 'b', content: '{"results": []}' },
  { role: 'assistant', content: '<think>\nNothing found.\n</think>\n\nNo results; notes written.' },
  { role: 'user', content: 'Thanks! Again?' },
];

/** Conversations × options rendered by both renderers. */
const CASES: { name: string; messages: ChatMessage[]; opts: RenderOptions }[] = [
  { name: 'system + user, thinking by default', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'hi' }], opts: { addGenerationPrompt: true } },
  { name: 'tools and system', messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'go' }], opts: { tools: QWEN35_TOOLS, addGenerationPrompt: true } },
  { name: 'tools, no system, thinking off', messages: [{ role: 'user', content: 'go' }], opts: { tools: QWEN35_TOOLS, addGenerationPrompt: true, enableThinking: false } },
  { name: 'tool calls, results and reasoning in history', messages: TOOL_CALL_HISTORY, opts: { tools: QWEN35_TOOLS, addGenerationPrompt: true } },
  { name: 'multi-step tool turn (last query earlier)', messages: TOOL_CALL_HISTORY.slice(0, 5), opts: { tools: QWEN35_TOOLS, addGenerationPrompt: true } },
  { name: 'no generation prompt', messages: TOOL_CALL_HISTORY.slice(0, 6), opts: { tools: QWEN35_TOOLS } },
  { name: 'lone system prompt (refused)', messages: [{ role: 'system', content: 'S' }], opts: {} },
  { name: 'system after the start (refused)', messages: [{ role: 'user', content: 'u' }, { role: 'system', content: 'S' }], opts: {} },
];

/** The variables a template sees for a render (what ChatTemplate passes, in JSON). */
function context(c: (typeof CASES)[number]): Record<string, unknown> {
  const ctx: Record<string, unknown> = { messages: toTemplateMessages(c.messages), add_generation_prompt: c.opts.addGenerationPrompt ?? false, eos_token: '<|im_end|>', pad_token: '<|endoftext|>' };
  if (c.opts.enableThinking !== undefined) ctx.enable_thinking = c.opts.enableThinking;
  if (c.opts.tools) ctx.tools = c.opts.tools;
  return ctx;
}

function ours(c: (typeof CASES)[number]): { text: string } | { error: string } {
  try {
    return { text: new ChatTemplate(QWEN35_CHAT_TEMPLATE, { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' }).render(c.messages, c.opts) };
  } catch (e) {
    expect(e).toBeInstanceOf(ChatTemplateError);
    return { error: (e as Error).message };
  }
}

describe('Qwen3.5 chat template', () => {
  it.skipIf(!existsSync(SHARED_FILE))('the repo copy is the shared Qwen3.5-4B.jinja', () => {
    expect(QWEN35_CHAT_TEMPLATE).toBe(readFileSync(SHARED_FILE, 'utf8'));
  });

  it.skipIf(!!PYTHON_JINJA_MISSING)("renders every case exactly as Python's jinja2 (transformers' setup) does", () => {
    const py = renderWithPython(QWEN35_CHAT_TEMPLATE, CASES.map(context));
    CASES.forEach((c, i) => {
      const [a, b] = [ours(c), py[i]!];
      if ('error' in b) expect('error' in a ? a.error : a.text, c.name).toContain(b.error);
      else expect(a, c.name).toEqual(b);
    });
    expect(py.filter((r) => 'error' in r)).toHaveLength(2);
  });

  it('agrees with @huggingface/jinja on the unchanged template where Python semantics do not differ', () => {
    const raw = new Template(QWEN35_CHAT_TEMPLATE);
    for (const c of CASES.slice(0, 3)) expect(ours(c), c.name).toEqual({ text: raw.render(context(c)) });
    const history = ours(CASES[3]!);
    expect('text' in history && history.text).toContain('<parameter=append>\nTrue\n</parameter>\n<parameter=tags>\n["x", "it\'s"]\n</parameter>');
    expect('text' in history && history.text).toContain('<parameter=limit>\nNone\n</parameter>\n<parameter=opts>\n{"lang": "en", "safe": false, "ratio": 0.25}\n</parameter>\n<parameter=score>\n1e-07\n</parameter>');
    // the library alone writes JSON booleans and cannot render a null argument
    expect(() => raw.render(context(CASES[3]!))).toThrow(/NullValue/);
    expect(ours(CASES[6]!)).toEqual({ error: 'chat template failed to render: No user query found in messages.' });
  });

  const STR_SRC = '{% for v in messages %}{{ v|string }}|{% endfor %}';
  const STR_VALUES = [true, false, null, 0.1, 1e-7, 1e16, 123456789.125, -2.5e-5, 'plain', [1, 'a', null, [true]], { k: "it's", q: 'say "hi"', both: `'"` }, '\u0007\u00a0\u2028é🚀'];
  const STR_EXPECTED = "True|False|None|0.1|1e-07|10000000000000000|123456789.125|-2.5e-05|plain|[1, 'a', None, [True]]|{'k': \"it's\", 'q': 'say \"hi\"', 'both': '\\'\"'}|\u0007\u00a0\u2028é🚀|";
  it.skipIf(!!PYTHON_JINJA_MISSING)("the expected |string text is Python jinja2's", () => {
    expect(renderWithPython(STR_SRC, [{ messages: STR_VALUES }])[0]).toEqual({ text: STR_EXPECTED });
  });

  it("renders Python's str() for |string: None, True, floats, lists, dicts, quoted strings", () => {
    expect(new ChatTemplate(STR_SRC).renderTemplateMessages(STR_VALUES as never)).toBe(STR_EXPECTED);
    expect([1e16, 1.5e16, 1e-4, 9.99e-5, -0, 3e300].map(pythonFloatRepr)).toEqual(['1e+16', '1.5e+16', '0.0001', '9.99e-05', '-0.0', '3e+300']);
  });

  it('Python repr keeps special-token text from messages as untrusted text', () => {
    const t = new ChatTemplate('{{ messages[0].tool_calls[0].function.arguments.x|string }}');
    const segs = t.renderSegments([{ role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { x: ['<|im_end|>', '\uE002'] } } }] }], {}, ['<|im_end|>']);
    expect(segs).toEqual([{ text: "['", trusted: true }, { text: '<|im_end|>', trusted: false }, { text: "', '\\ue002']", trusted: true }]);
  });

  it('refuses image and video parts with a named error that the HTTP layer answers with 400', () => {
    const t = new ChatTemplate(QWEN35_CHAT_TEMPLATE);
    const parts = [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      { type: 'image', image: 'x.png' },
      { type: 'video', video: 'x.mp4' },
      { type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } },
      { type: 'input_audio', input_audio: { data: '', format: 'wav' } },
    ];
    for (const part of parts) {
      const call = () => t.render([{ role: 'user', content: [{ type: 'text', text: 'look:' }, part] }], { addGenerationPrompt: true });
      expect(call).toThrow(UnsupportedContentError);
      try {
        call();
      } catch (e) {
        const err = e as UnsupportedContentError;
        expect(err).toBeInstanceOf(MessageFormatError);
        expect(err.name).toBe('UnsupportedContentError');
        expect(err.partType).toBe(part.type);
        expect(err.index).toBe(0);
        expect(err.message).toMatch(/^message 0: (image|video|audio) content \(part of type '\w+'\) is not supported: the model takes text only$/);
        const res = toErrorResponse(err);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages', code: 'unsupported_content' });
      }
    }
    expect(t.render([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }])).toBe('<|im_start|>user\nab<|im_end|>\n');
  });
});
