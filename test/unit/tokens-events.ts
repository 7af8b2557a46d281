// Shared helper of the tool-call parser tests.
import type { ParserEvent } from '../../engine/tokens/tool-call-parser.js';

/** Merges adjacent text events of the same kind (content, reasoning, args of one call): what any chunking must agree on. */
export function normalise(events: ParserEvent[]): ParserEvent[] {
  const out: ParserEvent[] = [];
  for (const e of events) {
    const prev = out[out.length - 1];
    if (prev && (e.type === 'content' || e.type === 'reasoning') && prev.type === e.type) prev.text += e.text;
    else if (prev && e.type === 'tool_call_args' && prev.type === 'tool_call_args' && prev.index === e.index) prev.text += e.text;
    else out.push({ ...e });
  }
  return out;
}
