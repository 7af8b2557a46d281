import { describe, expect, it } from 'vitest';
import { ToolRegistrationError } from '../../tools/errors.js';
import { ToolRegistry, capText } from '../../tools/registry.js';
import type { Tool } from '../../tools/tool.js';
import { namespacedToolName, uniqueToolName } from '../../tools/tool-names.js';

function tool(name: string, call: Tool['call'], extra: Partial<Tool> = {}): Tool {
  return {
    name,
    description: `${name} tool`,
    source: 'test',
    inputSchema: {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 0 }, url: { type: 'string', format: 'uri' } },
      additionalProperties: false,
    },
    call,
    ...extra,
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

describe('tool names', () => {
  it('namespaces, sanitizes and bounds names', () => {
    expect(namespacedToolName('fs', 'read')).toBe('fs__read');
    const odd = namespacedToolName('my.server', 'get/item');
    expect(odd).toMatch(/^my_server__get_item_[0-9a-f]{8}$/);
    expect(namespacedToolName('my_server', 'get_item')).toBe('my_server__get_item'); // no clash with the sanitized one
    const long = namespacedToolName('s'.repeat(40), 't'.repeat(40));
    expect(long).toHaveLength(64);
    expect(long).not.toBe(namespacedToolName('s'.repeat(40), 't'.repeat(41)));
    expect(uniqueToolName('a', new Set(['a', 'a_2']))).toBe('a_3');
  });

  it('refuses invalid and duplicate names at registration', () => {
    const reg = new ToolRegistry();
    expect(() => reg.add(tool('has space', async () => ''))).toThrow(ToolRegistrationError);
    expect(() => reg.add(tool('x'.repeat(65), async () => ''))).toThrow(/must match/);
    reg.add(tool('a', async () => ''));
    expect(() => reg.add(tool('b', async () => ''), tool('a', async () => ''))).toThrow(/already registered/);
    expect(reg.names()).toEqual(['a']); // nothing of the failed batch was added
  });
});

describe('ToolRegistry', () => {
  it('exports OpenAI-style definitions', () => {
    const reg = new ToolRegistry().add(tool('a', async () => ''), tool('b', async () => ''));
    expect(reg.definitions(['b'])).toEqual([
      { type: 'function', function: { name: 'b', description: 'b tool', parameters: reg.get('b')!.inputSchema } },
    ]);
    expect(reg.definitions().map((d) => d.function.name)).toEqual(['a', 'b']);
  });

  it('returns unknown tools, bad JSON and schema violations as data', async () => {
    const reg = new ToolRegistry().add(tool('a', async (args) => `n=${args.n}`));
    const unknown = await reg.call({ id: 'c1', name: 'nope' });
    expect(unknown).toMatchObject({ ok: false, id: 'c1', error: { type: 'unknown_tool' } });
    expect(unknown.content).toBe("Error (unknown_tool): no tool named 'nope'; available: a");
    const badJson = await reg.call({ name: 'a', arguments: '{"n": ' });
    expect(badJson).toMatchObject({ ok: false, error: { type: 'invalid_arguments' } });
    const notObj = await reg.call({ name: 'a', arguments: '[1]' });
    expect(notObj).toMatchObject({ ok: false, error: { message: 'arguments must be a JSON object' } });
    const bad = await reg.call({ name: 'a', arguments: { n: -1, url: 'not a uri', extra: 1 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.message).toContain("must NOT have additional properties 'extra'");
      expect(bad.error.message).toContain('/n: must be >= 0');
      expect(bad.error.message).toContain('/url: must match format "uri"');
    }
    expect((await reg.call({ name: 'a', arguments: '{"n": 2}' })).content).toBe('n=2');
    expect((await reg.call({ name: 'a', arguments: '' })).content).toBe('n=undefined');
  });

  it('turns thrown errors and non-Error throws into execution errors', async () => {
    const reg = new ToolRegistry().add(
      tool('boom', async () => {
        throw new RangeError('out of range');
      }),
      tool('str', async () => {
        throw 'plain string';
      }),
      tool('sync', (() => {
        throw new Error('sync throw');
      }) as unknown as Tool['call']),
    );
    const [a, b, c] = await reg.callMany([{ name: 'boom' }, { name: 'str' }, { name: 'sync' }]);
    expect(a).toMatchObject({ ok: false, error: { type: 'execution_error', message: 'RangeError: out of range' } });
    expect(b).toMatchObject({ ok: false, error: { type: 'execution_error', message: 'Error: plain string' } });
    expect(c).toMatchObject({ ok: false, error: { type: 'execution_error', message: 'Error: sync throw' } });
  });

  it('times out tools that ignore their signal and aborts the ones that listen', async () => {
    let sawAbort = false;
    const reg = new ToolRegistry({ defaultTimeoutMs: 150 }).add(
      tool('deaf', () => new Promise(() => undefined)),
      tool('listening', async (_a, ctx) => {
        ctx.signal.addEventListener('abort', () => (sawAbort = true));
        await sleep(10_000, ctx.signal);
        return 'never';
      }),
      tool('own', async () => {
        await sleep(100);
        return 'done';
      }, { timeoutMs: 50 }),
    );
    const t0 = performance.now();
    const [deaf, listening, own] = await reg.callMany([{ name: 'deaf' }, { name: 'listening' }, { name: 'own' }]);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(deaf).toMatchObject({ ok: false, error: { type: 'timeout', message: "tool 'deaf' timed out after 150 ms" } });
    expect(listening).toMatchObject({ ok: false, error: { type: 'timeout' } });
    expect(sawAbort).toBe(true);
    expect(own).toMatchObject({ ok: false, error: { type: 'timeout', message: "tool 'own' timed out after 50 ms" } });
    expect((await reg.call({ name: 'own' }, { timeoutMs: 1_000 })).content).toBe('done');
  });

  it('reports caller cancellation as aborted', async () => {
    const reg = new ToolRegistry().add(tool('slow', async (_a, ctx) => (await sleep(10_000, ctx.signal), 'x')));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    expect(await reg.call({ name: 'slow' }, { signal: ac.signal })).toMatchObject({ ok: false, error: { type: 'aborted' } });
    expect(await reg.call({ name: 'slow' }, { signal: AbortSignal.abort() })).toMatchObject({ ok: false, error: { type: 'aborted' } });
  });

  it('runs calls in parallel up to the concurrency limit, results in request order', async () => {
    let running = 0;
    let peak = 0;
    const reg = new ToolRegistry({ concurrency: 3 }).add(
      tool('work', async (args) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(40 - Number(args.n) * 5);
        running--;
        return `r${args.n}`;
      }),
    );
    const out = await reg.callMany(Array.from({ length: 7 }, (_, n) => ({ id: `c${n}`, name: 'work', arguments: { n } })));
    expect(out.map((o) => o.content)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(out.map((o) => o.id)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(peak).toBe(3);
  });

  it('caps oversize results with a note and keeps isError', async () => {
    const reg = new ToolRegistry({ maxResultChars: 100 }).add(
      tool('big', async () => ({ content: 'y'.repeat(1000), isError: true })),
      tool('small', async () => 'ok'),
    );
    const big = await reg.call({ name: 'big' });
    expect(big).toMatchObject({ ok: true, truncated: true, isError: true });
    expect(big.content).toBe('y'.repeat(100) + '\n\n[truncated: the result had 1000 characters; only the first 100 are shown]');
    expect(await reg.call({ name: 'small' })).toMatchObject({ ok: true, truncated: false, content: 'ok' });
    expect(capText('a😀', 2).text.startsWith('a\n')).toBe(true); // never splits a surrogate pair
  });

  it('warns about schemas ajv cannot compile and still calls the tool', async () => {
    const reg = new ToolRegistry().add(tool('odd', async () => 'ran', { inputSchema: { type: 'object', properties: { a: { type: 'no-such-type' } } } }));
    expect(reg.warnings[0]).toMatch(/tool 'odd'.*not compilable/);
    expect((await reg.call({ name: 'odd', arguments: { a: 1 } })).content).toBe('ran');
  });

  it('validates 2020-12 schemas with the matching dialect', async () => {
    const reg = new ToolRegistry().add(
      tool('t', async () => 'ok', {
        inputSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { xs: { type: 'array', prefixItems: [{ type: 'string' }] } } },
      }),
    );
    expect(reg.warnings).toEqual([]);
    expect((await reg.call({ name: 't', arguments: { xs: ['a', 1] } })).ok).toBe(true);
    expect((await reg.call({ name: 't', arguments: { xs: [1] } })).ok).toBe(false);
  });

  it('removes tools by name and by source', () => {
    const reg = new ToolRegistry().add(tool('a', async () => ''), tool('b', async () => '', { source: 'mcp:x' }), tool('c', async () => '', { source: 'mcp:x' }));
    expect(reg.removeSource('mcp:x')).toBe(2);
    expect(reg.remove('a')).toBe(true);
    expect(reg.names()).toEqual([]);
  });
});
