/**
 * Turn events → an Anthropic message. One builder serves both modes: streamed, it sends the
 * documented events as the turn runs (message_start, ping, then per block content_block_start,
 * content_block_delta — text_delta / thinking_delta / input_json_delta —, content_block_stop; last
 * message_delta with the stop reason and usage, and message_stop); either way it folds the same
 * content blocks, so streamed and non-streamed answers to the same request and seed are equal.
 */
import { randomBytes } from 'node:crypto';
import type { TurnEvent, TurnResult } from '../../chat/types.js';
import { parsePartialJson } from '../partial-json.js';
import type { SendEvent } from '../sse-stream.js';

type Obj = Record<string, unknown>;

/** Anthropic usage: `input_tokens` counts only the prompt tokens computed now, `cache_read_input_tokens` the reused ones. */
export function anthropicUsage(r: TurnResult) {
  return { input_tokens: r.usage.prefilled, cache_creation_input_tokens: 0, cache_read_input_tokens: r.usage.reused, output_tokens: r.usage.completionTokens };
}

/** Anthropic stop_reason of a turn. */
export function stopReason(r: TurnResult): string {
  if (r.finish === 'length') return 'max_tokens';
  if (r.finish === 'tool_calls') return 'tool_use';
  return r.stopString !== undefined ? 'stop_sequence' : 'end_turn';
}

interface Open {
  index: number;
  kind: 'text' | 'thinking' | 'tool_use';
  block: Obj;
  /** Text, thinking, or the tool input JSON so far. */
  text: string;
}

export class MessageBuilder {
  readonly id = `msg_${randomBytes(12).toString('hex')}`;
  readonly content: Obj[] = [];
  private cur: Open | undefined;
  private calls = new Map<number, Open>();

  /** `send` null: fold only (non-streaming). */
  constructor(private readonly model: string, private readonly send: SendEvent | null) {}

  /** message_start (with the prompt's usage) and a ping. */
  started(promptUsage: { prefilled: number; reused: number }): void {
    const message = {
      id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null,
      usage: { input_tokens: promptUsage.prefilled, cache_creation_input_tokens: 0, cache_read_input_tokens: promptUsage.reused, output_tokens: 0 },
    };
    this.send?.('message_start', { type: 'message_start', message });
    this.send?.('ping', { type: 'ping' });
  }

  private open(kind: Open['kind'], block: Obj): Open {
    const o: Open = { index: this.content.length, kind, block, text: '' };
    this.content.push(block);
    this.send?.('content_block_start', { type: 'content_block_start', index: o.index, content_block: { ...block } });
    return o;
  }

  private delta(o: Open, delta: Obj): void {
    this.send?.('content_block_delta', { type: 'content_block_delta', index: o.index, delta });
  }

  private close(o: Open): void {
    if (o.kind === 'text') o.block.text = o.text;
    else if (o.kind === 'thinking') {
      o.block.thinking = o.text;
      this.delta(o, { type: 'signature_delta', signature: '' });
    } else {
      // A call cut by max_tokens keeps what its partial JSON says so far (as streaming clients parse it).
      const v = parsePartialJson(o.text);
      o.block.input = v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
    }
    this.send?.('content_block_stop', { type: 'content_block_stop', index: o.index });
  }

  private closeText(): void {
    if (this.cur) this.close(this.cur);
    this.cur = undefined;
  }

  private text(kind: 'text' | 'thinking', t: string): void {
    if (this.cur?.kind !== kind) {
      this.closeText();
      this.cur = this.open(kind, kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' });
    }
    this.cur!.text += t;
    this.delta(this.cur!, kind === 'text' ? { type: 'text_delta', text: t } : { type: 'thinking_delta', thinking: t });
  }

  /** Folds one turn event (start and finish are handled by the caller). */
  push(e: TurnEvent): void {
    switch (e.type) {
      case 'content': return this.text('text', e.text);
      case 'reasoning': return this.text('thinking', e.text);
      case 'tool_call_start': {
        this.closeText();
        this.calls.set(e.index, this.open('tool_use', { type: 'tool_use', id: e.id, name: e.name, input: {} }));
        return;
      }
      case 'tool_call_args': {
        const o = this.calls.get(e.index);
        if (!o) return;
        o.text += e.text;
        this.delta(o, { type: 'input_json_delta', partial_json: e.text });
        return;
      }
      case 'tool_call_end':
      case 'tool_call_error': {
        const o = this.calls.get(e.index);
        if (!o) return;
        this.calls.delete(e.index);
        this.close(o);
        return;
      }
      default: return;
    }
  }

  /** Closes open blocks, sends message_delta and message_stop; returns the whole message. */
  finish(r: TurnResult): Obj {
    this.closeText();
    for (const o of this.calls.values()) this.close(o);
    this.calls.clear();
    const stop = { stop_reason: stopReason(r), stop_sequence: r.stopString ?? null };
    const usage = anthropicUsage(r);
    this.send?.('message_delta', { type: 'message_delta', delta: stop, usage });
    this.send?.('message_stop', { type: 'message_stop' });
    return { id: this.id, type: 'message', role: 'assistant', model: this.model, content: this.content, ...stop, usage };
  }
}
