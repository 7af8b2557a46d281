import { describe, expect, it } from 'vitest';
import { matchPrefix, type IncomingConversation, type StoredConversation, type StoredMessage } from '../../engine/tokens/prefix-match.js';
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';

const TOOLS: ToolDefinition[] = [{ type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }];

// Stored session: what our runtime kept. Appends: [system, user] → 0..40 (gen prompt belongs to the assistant's range),
// assistant (generated, with think block and a tool call) → 40..90, [tool, tool] → 90..120, assistant → 120..150.
const stored: StoredConversation = {
  tools: TOOLS,
  kwargs: { enable_thinking: true },
  messages: [
    { message: { role: 'system', content: 'You are helpful.' }, start: 0, end: 40 },
    { message: { role: 'user', content: 'Read a and b.' }, start: 0, end: 40 },
    {
      message: {
        role: 'assistant',
        content: '<think>\nI need both files.\n</think>\n\nReading them.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path": "a", "opts": {"x": 1, "y": 2}}' } },
          { id: 'call_2', type: 'function', function: { name: 'read_file', arguments: '{"path": "b"}' } },
        ],
      },
      start: 40,
      end: 90,
    },
    { message: { role: 'tool', tool_call_id: 'call_1', content: 'A' }, start: 90, end: 120 },
    { message: { role: 'tool', tool_call_id: 'call_2', content: 'B' }, start: 90, end: 120 },
    { message: { role: 'assistant', content: 'Both read.' }, start: 120, end: 150 },
  ] satisfies StoredMessage[],
};

/** What an OpenAI client resends: no think block, arguments re-serialised with other spacing and key order, content as parts. */
const resent: ChatMessage[] = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: [{ type: 'text', text: 'Read a ' }, { type: 'text', text: 'and b.' }] },
  {
    role: 'assistant',
    content: 'Reading them.',
    tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"opts":{"y":2,"x":1},"path":"a"}' } },
      { id: 'call_2', type: 'function', function: { name: 'read_file', arguments: { path: 'b' } } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_1', content: 'A' },
  { role: 'tool', tool_call_id: 'call_2', content: 'B' },
  { role: 'assistant', content: 'Both read.' },
];

const incoming = (messages: ChatMessage[], extra: Partial<Omit<IncomingConversation, 'messages'>> = {}): IncomingConversation => ({ messages, tools: TOOLS, kwargs: { enable_thinking: false }, ...extra });

describe('message-level prefix matching', () => {
  it('identical resend keeps everything (think block and re-serialised tool-call arguments still match)', () => {
    const m = matchPrefix(stored, incoming(resent));
    expect(m).toEqual({ keepMessages: 6, keepTokens: 150, append: [] });
  });

  it('one new message: keep all stored tokens, append only it', () => {
    const next: ChatMessage = { role: 'user', content: 'Now c.' };
    const m = matchPrefix(stored, incoming([...resent, next]));
    expect(m.divergence).toBeUndefined();
    expect(m.keepTokens).toBe(150);
    expect(m.append).toEqual([next]);
  });

  it('edited middle message: roll back to the start of its append group and report why', () => {
    const edited = resent.map((x, i) => (i === 4 ? { ...x, content: 'B2' } : x));
    const m = matchPrefix(stored, incoming(edited));
    expect(m.divergence).toEqual({ index: 4, reason: 'message 4 content differs' });
    // messages 3 and 4 were appended together (one tool turn): re-append both
    expect(m.keepMessages).toBe(3);
    expect(m.keepTokens).toBe(90);
    expect(m.append).toEqual(edited.slice(3));
  });

  it('edited assistant tool-call arguments and content diverge at that message', () => {
    const args = resent.map((x, i) => (i === 2 ? { ...x, tool_calls: [x.tool_calls![0]!, { ...x.tool_calls![1]!, function: { name: 'read_file', arguments: '{"path":"c"}' } }] } : x));
    expect(matchPrefix(stored, incoming(args)).divergence).toEqual({ index: 2, reason: 'message 2 tool call 1 arguments differ' });
    const content = resent.map((x, i) => (i === 5 ? { ...x, content: 'Both read!' } : x));
    const m = matchPrefix(stored, incoming(content));
    expect(m.divergence).toEqual({ index: 5, reason: 'message 5 content differs' });
    expect(m.keepTokens).toBe(120);
  });

  it('deleted message: diverges where the lists part and keeps what precedes', () => {
    const deleted = [...resent.slice(0, 3), ...resent.slice(4)];
    const m = matchPrefix(stored, incoming(deleted));
    expect(m.divergence?.index).toBe(3);
    expect(m.divergence?.reason).toMatch(/message 3 (tool_call_id|content) differs/);
    expect(m.keepTokens).toBe(90);
    const truncated = matchPrefix(stored, incoming(resent.slice(0, 5)));
    expect(truncated.divergence).toEqual({ index: 5, reason: 'message 5 missing (stored session has 6 messages, request has 5)' });
    expect(truncated).toMatchObject({ keepMessages: 5, keepTokens: 120, append: [] });
  });

  it('changed system prompt diverges at 0', () => {
    const m = matchPrefix(stored, incoming([{ role: 'system', content: 'You are terse.' }, ...resent.slice(1)]));
    expect(m).toMatchObject({ keepMessages: 0, keepTokens: 0, divergence: { index: 0, reason: 'message 0 content differs' } });
    expect(m.append).toHaveLength(6);
    // developer is the same role as system
    expect(matchPrefix(stored, incoming([{ role: 'developer', content: 'You are helpful.' }, ...resent.slice(1)])).divergence).toBeUndefined();
  });

  it('changed tool list (or history-affecting kwargs) diverges at 0; tool order of keys does not matter', () => {
    const more = [...TOOLS, { type: 'function' as const, function: { name: 'write_file' } }];
    expect(matchPrefix(stored, incoming(resent, { tools: more })).divergence).toEqual({ index: 0, reason: 'tool list differs' });
    expect(matchPrefix(stored, incoming(resent, { tools: [] })).divergence).toEqual({ index: 0, reason: 'tool list differs' });
    const reordered = [{ function: { parameters: { properties: { path: { type: 'string' } }, type: 'object' }, name: 'read_file' }, type: 'function' as const }];
    expect(matchPrefix(stored, incoming(resent, { tools: reordered })).divergence).toBeUndefined();
    expect(matchPrefix(stored, incoming(resent, { kwargs: { custom_flag: 1 } })).divergence).toEqual({ index: 0, reason: 'template kwargs differ' });
  });

  it('a changed role is reported as such', () => {
    const m = matchPrefix(stored, incoming([resent[0]!, { role: 'assistant', content: 'Read a and b.' }]));
    expect(m.divergence).toEqual({ index: 1, reason: 'message 1 role differs (user stored, assistant sent)' });
    expect(m.keepTokens).toBe(0);
  });
});
