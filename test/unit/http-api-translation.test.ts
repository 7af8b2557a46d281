/**
 * The translation layers of the HTTP APIs, without a model: stored responses (format, checksum,
 * damage, pruning, item lookup, chains), Responses input items → chat messages, Anthropic blocks →
 * chat messages, legacy function calling, partial JSON of a cut tool call.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { legacyMessage, mapLegacyFunctions } from '../../runtime/http/legacy-functions.js';
import { chatMessagesOf } from '../../runtime/http/messages/input.js';
import { parsePartialJson } from '../../runtime/http/partial-json.js';
import { inputMessages, resolveReferences, withInstructions } from '../../runtime/http/responses/input.js';
import { decodeRecord, encodeRecord, ResponseStore, type ResponseRecord } from '../../runtime/http/responses/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'resident-resp-store-'));
  dirs.push(d);
  return d;
};

function record(id: string, created: number, sessionId: string | null, previousId: string | null = null): ResponseRecord {
  return {
    response: { id, object: 'response', status: 'completed', created_at: created, output: [{ id: `msg_${id}`, type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `answer ${id}` }] }] },
    inputItems: [{ id: `in_${id}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: `question ${id}` }] }],
    point: sessionId ? { sessionId, end: 10 } : null, system: null, tools: [],
    messages: [{ role: 'user', content: `question ${id}` }, { role: 'assistant', content: `answer ${id}` }], previousId,
  };
}

describe('stored responses', () => {
  it('round-trips a record; a damaged or truncated file is refused', () => {
    const r = record('resp_a', 1, 's1');
    const bytes = encodeRecord(r);
    expect(decodeRecord(bytes)).toEqual(r);
    expect(bytes.subarray(0, bytes.indexOf(10)).toString()).toMatch(/^\{"format":"resident-response","version":2,"bytes":\d+,"sha256":"[0-9a-f]{64}"\}$/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5] ^= 1;
    expect(() => decodeRecord(flipped)).toThrow(/checksum mismatch/);
    expect(() => decodeRecord(bytes.subarray(0, bytes.length - 20))).toThrow(/checksum mismatch/);
    expect(() => decodeRecord(Buffer.from('{"format":"x"}\n{}'))).toThrow(/not a resident-response file/);
  });

  it('reopens stored records, skips damaged ones with a warning and removes leftover temps', async () => {
    const dir = tempDir();
    const s = ResponseStore.open(dir);
    await s.put(record('resp_a', 1, 's1'));
    await s.put(record('resp_b', 2, 's1', 'resp_a'));
    writeFileSync(join(dir, 'resp_c.json'), 'garbage');
    writeFileSync(join(dir, '.resp_d.json.0123456789ab.tmp'), 'partial');
    const warnings: string[] = [];
    const t = ResponseStore.open(dir, (m) => warnings.push(m));
    expect(t.size).toBe(2);
    expect(t.get('resp_b')?.previousId).toBe('resp_a');
    expect(t.get('resp_c')).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/resp_c is unreadable/);
    expect(readdirSync(dir).some((n) => n.endsWith('.tmp'))).toBe(false);
    expect(t.chain('resp_b')!.map((r) => r.response.id)).toEqual(['resp_a', 'resp_b']);
    expect(t.item('msg_resp_a')).toMatchObject({ type: 'message', role: 'assistant' });
    expect(t.item('in_resp_b')).toMatchObject({ role: 'user' });
  });

  it('deletes a session only with its last response; prunes the oldest first', async () => {
    const s = ResponseStore.open(tempDir());
    await s.put(record('resp_a', 1, 's1'));
    await s.put(record('resp_b', 2, 's1', 'resp_a'));
    await s.put(record('resp_c', 3, 's2'));
    expect(await s.delete('resp_a')).toEqual({ orphan: null });
    expect(s.chain('resp_b')).toBeUndefined(); // a link is gone
    expect(s.item('msg_resp_a')).toBeUndefined();
    expect(await s.prune(1)).toEqual(['s1']);
    expect(s.size).toBe(1);
    expect(s.get('resp_c')).toBeDefined();
    expect(readFileSync(join(s.dir, 'resp_c.json')).length).toBeGreaterThan(0);
  });
});

describe('Responses input items', () => {
  it('folds reasoning and function calls into one assistant message; tool outputs become tool messages', () => {
    const m = inputMessages([
      { role: 'user', content: [{ type: 'input_text', text: 'Add 2 and 3.' }] },
      { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Use add.' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Calling.' }] },
      { type: 'function_call', call_id: 'c1', name: 'add', arguments: '{"a":2,"b":3}' },
      { type: 'function_call', call_id: 'c2', name: 'add', arguments: '{"a":1,"b":1}' },
      { type: 'function_call_output', call_id: 'c1', output: '5' },
      { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: '2' }] },
    ]);
    expect(m).toEqual([
      { role: 'user', content: 'Add 2 and 3.' },
      { role: 'assistant', content: 'Calling.', reasoning_content: 'Use add.', tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } },
        { id: 'c2', type: 'function', function: { name: 'add', arguments: '{"a":1,"b":1}' } },
      ] },
      { role: 'tool', tool_call_id: 'c1', content: '5' },
      { role: 'tool', tool_call_id: 'c2', content: '2' },
    ]);
  });

  it('merges instructions with leading system input; resolves known item references', () => {
    expect(withInstructions('Be brief.', [{ role: 'developer', content: 'Use tools.' }, { role: 'user', content: 'Hi' }])).toEqual([{ role: 'system', content: 'Be brief.\n\nUse tools.' }, { role: 'user', content: 'Hi' }]);
    expect(withInstructions(null, [{ role: 'user', content: 'Hi' }])).toEqual([{ role: 'user', content: 'Hi' }]);
    const known = { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello' }] };
    expect(resolveReferences([{ type: 'item_reference', id: 'msg_1' }, { type: 'item_reference', id: 'x' }], (id) => (id === 'msg_1' ? known : undefined))).toEqual([known, { type: 'item_reference', id: 'x' }]);
  });
});

describe('Anthropic blocks', () => {
  it('maps system, tool_use (with thinking) and tool_result blocks to chat messages', () => {
    const m = chatMessagesOf({
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [
        { role: 'user', content: 'Add 2 and 3.' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'Use add.', signature: '' }, { type: 'tool_use', id: 'toolu_1', name: 'add', input: { a: 2, b: 3 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '5' }] }, { type: 'text', text: 'Thanks.' }] },
      ],
    });
    expect(m).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Add 2 and 3.' },
      { role: 'assistant', content: null, reasoning_content: 'Use add.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '5' },
      { role: 'user', content: 'Thanks.' },
    ]);
  });
});

describe('legacy function calling', () => {
  it('maps functions / function_call and the legacy history to tools, and answers back in the legacy shape', () => {
    const body = mapLegacyFunctions({
      functions: [{ name: 'add', parameters: { type: 'object' } }], function_call: { name: 'add' },
      messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, function_call: { name: 'add', arguments: '{}' } }, { role: 'function', name: 'add', content: '5' }],
    }) as Record<string, unknown>;
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }]);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'add' } });
    expect(body.parallel_tool_calls).toBe(false);
    expect(body).not.toHaveProperty('functions');
    const [, assistant, tool] = body.messages as Record<string, unknown>[];
    expect(assistant).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: 'call_legacy_0', type: 'function', function: { name: 'add', arguments: '{}' } }] });
    expect(tool).toEqual({ role: 'tool', content: '5', tool_call_id: 'call_legacy_0' });
    expect(legacyMessage({ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'add', arguments: '{"a":1}' } }] })).toEqual({ role: 'assistant', content: null, function_call: { name: 'add', arguments: '{"a":1}' } });
  });
});

describe('partial JSON of a cut tool call', () => {
  it.each([
    ['{"a": 1, "b": 2}', { a: 1, b: 2 }],
    ['{"unit": "f", "city": ": med', { unit: 'f' }],
    ['{"unit": "f", "ci', { unit: 'f' }],
    ['{"a": [1, 2', { a: [1, 2] }],
    ['{"a": {"b": tru', { a: {} }],
    ['{', {}],
  ])('%j → %j', (text, value) => expect(parsePartialJson(text)).toEqual(value));
  it('undefined when nothing parses', () => expect(parsePartialJson('')).toBeUndefined());
});
