/** The per-token decoding pipeline of assistant turns (stop strings, reasoning, tool calls) and the metrics registry. */
import { describe, expect, it } from 'vitest';
import { writeBuiltinTokenizer } from '../../engine/synth/builtin-tokenizer.js';
import { Tokenizer } from '../../engine/tokens/tokenizer.js';
import { StopFilter, TurnDecoder } from '../../runtime/chat/decoder.js';
import { MetricsRegistry } from '../../runtime/host/metrics.js';
import { describeError, paramOf } from '../../runtime/http/validate.js';
import { SessionLocks } from '../../runtime/chat/session-locks.js';

const files = writeBuiltinTokenizer();
const tokenizer = new Tokenizer(JSON.parse(files.tokenizerJson), JSON.parse(files.tokenizerConfigJson));

/** Splits `s` into random chunks (deterministic). */
function chunks(s: string, seed: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const n = 1 + (seed % 5);
    out.push(s.slice(i, i + n));
    i += n;
  }
  return out;
}

describe('StopFilter', () => {
  it('cuts at the first stop string whatever the chunking, and never shows it', () => {
    const text = 'alpha beta STOP gamma END delta';
    for (let seed = 1; seed < 40; seed++) {
      const f = new StopFilter(['END', 'STOP']);
      const shown = chunks(text, seed).map((c) => f.push(c)).join('') + f.flush();
      expect(shown).toBe('alpha beta ');
      expect(f.stopped).toBe(true);
    }
  });
  it('releases held text that turned out not to be a stop string', () => {
    const f = new StopFilter(['STOP']);
    expect(f.push('a ST')).toBe('a ');
    expect(f.push('O')).toBe('');
    expect(f.push('P!')).toBe('');
    const g = new StopFilter(['STOP']);
    expect(g.push('a STO')).toBe('a ');
    expect(g.push('RM')).toBe('STORM');
    expect(g.push(' ST')).toBe(' ');
    expect(g.flush()).toBe('ST');
    expect(g.stopped).toBe(false);
  });
  it('passes everything through without stop strings', () => {
    const f = new StopFilter([]);
    expect(f.push('abc')).toBe('abc');
    expect(f.flush()).toBe('');
  });
});

describe('TurnDecoder', () => {
  const text = '<think>\nweigh the options\n</think>\n\nIt is sunny.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  const ids = [...tokenizer.encode(text), tokenizer.eosIds[0]!];

  it('splits reasoning, content and tool calls from token ids; the stop token adds no text', () => {
    const d = new TurnDecoder(tokenizer, { idFactory: (i) => `call_${i}` });
    const events = [...ids.flatMap((t) => d.push(t)), ...d.finish()];
    expect(d.out.reasoning).toBe('weigh the options');
    expect(d.out.content).toBe('It is sunny.');
    expect(d.out.toolCalls).toEqual([{ id: 'call_0', name: 'get_weather', arguments: { city: 'Paris' }, argumentsJson: '{"city": "Paris"}' }]);
    expect(d.out.text).not.toContain('<|im_end|>');
    const args = events.filter((e) => e.type === 'tool_call_args').map((e) => (e as { text: string }).text).join('');
    expect(args).toBe('{"city": "Paris"}');
    expect(events.find((e) => e.type === 'tool_call_start')).toMatchObject({ index: 0, id: 'call_0', name: 'get_weather' });
  });

  it('stops at a stop string: text after it is never shown, later tokens are ignored', () => {
    const d = new TurnDecoder(tokenizer, { stop: ['sunny'] });
    for (const t of ids) d.push(t);
    d.finish();
    expect(d.stopped).toBe(true);
    expect(d.out.content).toBe('It is');
    expect(d.out.toolCalls).toEqual([]);
  });

  it('reports an unterminated call at the end (length cut)', () => {
    const cut = tokenizer.encode('<tool_call>\n{"name": "f", "argu');
    const d = new TurnDecoder(tokenizer);
    for (const t of cut) d.push(t);
    const end = d.finish();
    expect(end.some((e) => e.type === 'tool_call_error')).toBe(true);
    expect(d.out.errors).toHaveLength(1);
    expect(d.finish()).toEqual([]);
  });
});

describe('MetricsRegistry', () => {
  it('renders counters, labelled gauges and histograms in the Prometheus text format', () => {
    const r = new MetricsRegistry();
    const c = r.counter('x_total', 'Things');
    c.inc(2);
    c.inc(1, { kind: 'a"b' });
    r.gauge('g', 'A gauge', () => [{ labels: { state: 'resident' }, value: 3 }]);
    const h = r.histogram('lat_seconds', 'Latency', [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    const text = r.render();
    expect(text).toContain('# TYPE x_total counter\nx_total 2\nx_total{kind="a\\"b"} 1');
    expect(text).toContain('g{state="resident"} 3');
    expect(text).toContain('lat_seconds_bucket{le="0.1"} 1\nlat_seconds_bucket{le="1"} 2\nlat_seconds_bucket{le="+Inf"} 3\nlat_seconds_sum 5.55\nlat_seconds_count 3');
    expect(() => r.counter('x_total', 'again')).toThrow(/twice/);
    expect(() => r.counter('bad name', 'x')).toThrow(/invalid metric name/);
  });
});

describe('validation messages', () => {
  it('names fields in dotted form', () => {
    expect(paramOf('/messages/0/content/1/text')).toBe('messages[0].content[1].text');
    expect(paramOf('', 'messages')).toBe('messages');
    expect(paramOf('')).toBeNull();
    expect(describeError({ keyword: 'type', instancePath: '/temperature', schemaPath: '', params: { type: 'number,null' } })).toEqual({ message: "'temperature' must be of type number or null", param: 'temperature' });
    expect(describeError({ keyword: 'required', instancePath: '/messages/2', schemaPath: '', params: { missingProperty: 'role' } })).toEqual({ message: "'messages[2].role' is required", param: 'messages[2].role' });
  });
});

describe('SessionLocks', () => {
  it('runs holders one at a time in arrival order', async () => {
    const locks = new SessionLocks();
    const order: string[] = [];
    const hold = async (name: string, ms: number) => {
      const release = await locks.acquire('s');
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name}-`);
      release();
    };
    expect(locks.isLocked('s')).toBe(false);
    const all = Promise.all([hold('a', 20), hold('b', 1), hold('c', 1)]);
    expect(locks.isLocked('s')).toBe(true);
    await all;
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(locks.isLocked('s')).toBe(false);
  });
});
