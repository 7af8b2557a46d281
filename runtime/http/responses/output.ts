/**
 * Turn events → Responses API output. One builder serves both modes: streamed, it sends the
 * documented events (each with a `sequence_number`) as the turn runs; either way it folds the same
 * output items, so a streamed and a non-streamed answer to the same request and seed are equal.
 *
 * Items open and close as the turn moves between kinds: a `reasoning` item (one reasoning_text
 * part), a `message` item (one output_text part), one `function_call` item per call. Stream order:
 * response.created, response.in_progress, then per item output_item.added, content_part.added,
 * *.delta…, *.done, content_part.done, output_item.done, and last response.completed (or
 * response.incomplete when max_output_tokens cut the answer).
 */
import { randomBytes } from 'node:crypto';
import type { TurnEvent, TurnResult } from '../../chat/types.js';
import { xResident } from '../completion-response.js';
import type { SendEvent } from '../sse-stream.js';

type Obj = Record<string, unknown>;

/** A new item id with the API's prefix (msg_, fc_, rs_, resp_…). */
export const itemId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** A Responses API response object (the fields we fill; see responseBase). */
export type ResponseObject = Obj & { id: string; status: string; output: Obj[] };

interface Open {
  kind: 'message' | 'reasoning' | 'function_call';
  index: number;
  item: Obj;
  text: string;
}

export class ResponseBuilder {
  readonly output: Obj[] = [];
  private seq = 0;
  private cur: Open | undefined;
  private calls = new Map<number, Open>();

  /** `send` null: fold only (non-streaming). */
  constructor(private readonly base: ResponseObject, private readonly send: SendEvent | null) {}

  private emit(type: string, data: Obj): void {
    this.send?.(type, { type, sequence_number: this.seq++, ...data });
  }

  /** Takes the next sequence number (for an event sent outside the builder, e.g. a mid-stream error). */
  nextSequence(): number {
    return this.seq++;
  }

  /** response.created and response.in_progress. */
  started(): void {
    const snap = { ...this.base, status: 'in_progress', output: [] };
    this.emit('response.created', { response: snap });
    this.emit('response.in_progress', { response: snap });
  }

  private open(kind: Open['kind'], item: Obj): Open {
    const o: Open = { kind, index: this.output.length, item, text: '' };
    this.output.push(item);
    this.emit('response.output_item.added', { output_index: o.index, item: { ...item } });
    if (kind === 'message') this.emit('response.content_part.added', { item_id: item.id, output_index: o.index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    if (kind === 'reasoning') this.emit('response.content_part.added', { item_id: item.id, output_index: o.index, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    return o;
  }

  /** Closes the open text item (message or reasoning). */
  private closeText(status = 'completed'): void {
    const o = this.cur;
    if (!o) return;
    this.cur = undefined;
    const id = o.item.id;
    if (o.kind === 'message') {
      const part = { type: 'output_text', text: o.text, annotations: [], logprobs: [] };
      this.emit('response.output_text.done', { item_id: id, output_index: o.index, content_index: 0, text: o.text, logprobs: [] });
      this.emit('response.content_part.done', { item_id: id, output_index: o.index, content_index: 0, part });
      Object.assign(o.item, { status, content: [part] });
    } else {
      const part = { type: 'reasoning_text', text: o.text };
      this.emit('response.reasoning_text.done', { item_id: id, output_index: o.index, content_index: 0, text: o.text });
      this.emit('response.content_part.done', { item_id: id, output_index: o.index, content_index: 0, part });
      Object.assign(o.item, { status, content: [part] });
    }
    this.emit('response.output_item.done', { output_index: o.index, item: { ...o.item } });
  }

  private text(kind: 'message' | 'reasoning', delta: string): void {
    if (this.cur?.kind !== kind) {
      this.closeText();
      this.cur = kind === 'message'
        ? this.open('message', { id: itemId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] })
        : this.open('reasoning', { id: itemId('rs'), type: 'reasoning', status: 'in_progress', summary: [], content: [] });
    }
    const o = this.cur!;
    o.text += delta;
    const type = kind === 'message' ? 'response.output_text.delta' : 'response.reasoning_text.delta';
    this.emit(type, { item_id: o.item.id, output_index: o.index, content_index: 0, delta, ...(kind === 'message' ? { logprobs: [] } : {}) });
  }

  private closeCall(o: Open, args: string, status: string): void {
    this.calls.delete(o.item.index as number);
    Object.assign(o.item, { arguments: args, status });
    delete o.item.index;
    this.emit('response.function_call_arguments.done', { item_id: o.item.id, output_index: o.index, name: o.item.name, arguments: args });
    this.emit('response.output_item.done', { output_index: o.index, item: { ...o.item } });
  }

  /** Folds one turn event (start and finish are handled by the caller). */
  push(e: TurnEvent): void {
    switch (e.type) {
      case 'content': return this.text('message', e.text);
      case 'reasoning': return this.text('reasoning', e.text);
      case 'tool_call_start': {
        this.closeText();
        const o = this.open('function_call', { id: `fc_${e.id.replace(/^call_/, '')}`, type: 'function_call', status: 'in_progress', call_id: e.id, name: e.name, arguments: '', index: e.index });
        this.calls.set(e.index, o);
        return;
      }
      case 'tool_call_args': {
        const o = this.calls.get(e.index);
        if (!o) return;
        o.text += e.text;
        this.emit('response.function_call_arguments.delta', { item_id: o.item.id, output_index: o.index, delta: e.text });
        return;
      }
      case 'tool_call_end': {
        const o = this.calls.get(e.index);
        if (o) this.closeCall(o, e.call.argumentsJson, 'completed');
        return;
      }
      case 'tool_call_error': {
        const o = this.calls.get(e.index);
        if (o) this.closeCall(o, o.text, 'incomplete');
        return;
      }
      default: return;
    }
  }

  /** Closes open items and builds the final response (send it with completed()). */
  result(r: TurnResult, reasoningTokens: number): ResponseObject {
    const cut = r.finish === 'length';
    this.closeText(cut ? 'incomplete' : 'completed');
    for (const o of [...this.calls.values()]) this.closeCall(o, o.text, 'incomplete');
    const status = r.finish === 'aborted' ? 'cancelled' : cut ? 'incomplete' : 'completed';
    const u = r.usage;
    const response: ResponseObject = {
      ...this.base,
      status,
      incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
      output: this.output,
      usage: {
        input_tokens: u.promptTokens,
        input_tokens_details: { cached_tokens: u.reused },
        output_tokens: u.completionTokens,
        output_tokens_details: { reasoning_tokens: reasoningTokens },
        total_tokens: u.promptTokens + u.completionTokens,
      },
      x_resident: xResident(r),
    };
    return response;
  }

  /** The last event: response.completed, or response.incomplete (cut or cancelled). */
  completed(response: ResponseObject): void {
    this.emit(response.status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }
}
