/**
 * The per-API builders that turn a turn's events into answers, fed a scripted turn (reasoning,
 * text, a complete call and a call cut by max_tokens): the streamed events follow each API's
 * documented order, and the streamed and folded answers are the same.
 */
import { describe, expect, it } from 'vitest';
import type { TurnEvent, TurnResult } from '../../runtime/chat/types.js';
import { MessageBuilder } from '../../runtime/http/messages/output.js';
import { ResponseBuilder, type ResponseObject } from '../../runtime/http/responses/output.js';

const call = { id: 'call_1', name: 'add', arguments: { a: 2, b: 3 }, argumentsJson: '{"a": 2, "b": 3}' };
const EVENTS: TurnEvent[] = [
  { type: 'reasoning', text: 'Use ' }, { type: 'reasoning', text: 'add.' },
  { type: 'content', text: 'Calling' }, { type: 'content', text: ' add.' },
  { type: 'tool_call_start', index: 0, id: 'call_1', name: 'add' }, { type: 'tool_call_args', index: 0, text: '{"a": 2, ' }, { type: 'tool_call_args', index: 0, text: '"b": 3}' },
  { type: 'tool_call_end', index: 0, call },
  { type: 'tool_call_start', index: 1, id: 'call_2', name: 'add' }, { type: 'tool_call_args', index: 1, text: '{"a": 7, "b' },
];
const RESULT: TurnResult = {
  sessionId: 's', finish: 'length', message: { role: 'assistant', content: 'Calling add.' }, toolCalls: [call],
  usage: { promptTokens: 100, prefilled: 10, reused: 90, completionTokens: 40 }, tokens: [], warnings: [],
};

function respond(stream: boolean) {
  const events: [string, Record<string, unknown>][] = [];
  const b = new ResponseBuilder({ id: 'resp_1', status: 'in_progress', output: [] } as ResponseObject, stream ? (n, d) => events.push([n, d as Record<string, unknown>]) : null);
  b.started();
  for (const e of EVENTS) b.push(e);
  const r = b.result(RESULT, 3);
  b.completed(r);
  return { r, events };
}

describe('Responses builder', () => {
  it('streams the documented sequence and folds the same output as without streaming', () => {
    const { r, events } = respond(true);
    const whole = respond(false);
    expect(whole.events).toEqual([]);
    const strip = (o: ResponseObject) => JSON.parse(JSON.stringify(o.output).replace(/"(msg|rs)_[0-9a-f]+"/g, '"id"'));
    expect(strip(whole.r)).toEqual(strip(r));
    expect(events.map(([n]) => n)).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added', 'response.reasoning_text.delta', 'response.reasoning_text.delta', 'response.reasoning_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done',
      'response.incomplete',
    ]);
    expect(events.map(([, d]) => d.sequence_number)).toEqual(events.map((_, i) => i));
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.output.map((o) => [o.type, o.status])).toEqual([['reasoning', 'completed'], ['message', 'completed'], ['function_call', 'completed'], ['function_call', 'incomplete']]);
    expect(r.output[0]).toMatchObject({ content: [{ type: 'reasoning_text', text: 'Use add.' }] });
    expect(r.output[1]).toMatchObject({ role: 'assistant', content: [{ type: 'output_text', text: 'Calling add.' }] });
    expect(r.output[2]).toMatchObject({ id: 'fc_1', call_id: 'call_1', name: 'add', arguments: '{"a": 2, "b": 3}' });
    expect(r.output[3]).toMatchObject({ call_id: 'call_2', arguments: '{"a": 7, "b' });
    expect(r.usage).toEqual({ input_tokens: 100, input_tokens_details: { cached_tokens: 90 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 140 });
  });
});

function message(stream: boolean) {
  const events: [string, Record<string, unknown>][] = [];
  const b = new MessageBuilder('m', stream ? (n, d) => events.push([n, d as Record<string, unknown>]) : null);
  b.started({ prefilled: 10, reused: 90 });
  for (const e of EVENTS) b.push(e);
  return { m: b.finish(RESULT), events };
}

describe('Messages builder', () => {
  it('streams the documented events and folds the same content as without streaming', () => {
    const { m, events } = message(true);
    const whole = message(false);
    expect({ ...whole.m, id: 'x' }).toEqual({ ...m, id: 'x' });
    expect(events.map(([n, d]) => (n === 'content_block_delta' ? `delta:${(d.delta as { type: string }).type}` : n))).toEqual([
      'message_start', 'ping',
      'content_block_start', 'delta:thinking_delta', 'delta:thinking_delta', 'delta:signature_delta', 'content_block_stop',
      'content_block_start', 'delta:text_delta', 'delta:text_delta', 'content_block_stop',
      'content_block_start', 'delta:input_json_delta', 'delta:input_json_delta', 'content_block_stop',
      'content_block_start', 'delta:input_json_delta', 'content_block_stop',
      'message_delta', 'message_stop',
    ]);
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'Use add.', signature: '' },
      { type: 'text', text: 'Calling add.' },
      { type: 'tool_use', id: 'call_1', name: 'add', input: { a: 2, b: 3 } },
      { type: 'tool_use', id: 'call_2', name: 'add', input: { a: 7 } },
    ]);
    expect(m).toMatchObject({ stop_reason: 'max_tokens', stop_sequence: null, usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 40 } });
  });
});
