/**
 * Long texts are encoded on the tokenizer's worker thread (engine/tokens/tokenizer-offload.ts): the same ids as the
 * in-process encoder, the event loop's thread stays idle meanwhile (an in-process encode, even sliced, keeps it busy),
 * concurrent requests get their own ids, and a worker that cannot load falls back to encoding in-process.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBudgetError } from '../../engine/tokens/errors.js';
import { OFFLOAD_CHARS } from '../../engine/tokens/tokenizer-offload.js';
import { Tokenizer, type TextSegment } from '../../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { testTokenizers } from '../support/tokenizers.js';

/** A long chat-like text: trusted framing with special tokens around ~1.5 MB of user text of mixed classes. */
function longSegments(seed: number): TextSegment[] {
  const words = ['alpha', ' beta', '  ', '\n', '中文', 'é', '42', '{"k": [1, 2]}', '<think>', '😀', ' the'];
  let x = seed;
  const body = Array.from({ length: 200_000 }, () => words[(x = (Math.imul(x, 1103515245) + 12345) >>> 0) % words.length]).join('');
  return [{ text: '<|im_start|>user\n', trusted: true }, { text: body, trusted: false }, { text: '<|im_end|>\n<|im_start|>assistant\n', trusted: true }];
}

/** Runs `work` and returns its result with the event loop's utilization meanwhile: busy ms, and their share (0 idle … 1 busy). */
async function withUtilization<T>(work: () => Promise<T>): Promise<{ value: T; elu: number; busy: number }> {
  const start = performance.eventLoopUtilization();
  const value = await work();
  const { utilization, active } = performance.eventLoopUtilization(start);
  return { value, elu: utilization, busy: active };
}

describe.each(testTokenizers())('the tokenizer worker thread ($name)', ({ dir }) => {
  let tok: Tokenizer;
  let inProcess: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(dir);
    const json = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
    inProcess = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
  });
  afterAll(async () => tok?.close());

  it('encodes a long text to the in-process ids while the event loop stays idle', async () => {
    const segments = longSegments(1);
    expect(segments[1]!.text.length).toBeGreaterThan(OFFLOAD_CHARS);
    const sync = inProcess.encodeSegments(segments);
    await tok.encodeSegmentsAsync(segments); // starts the worker (loading its tokenizer) once
    const offloaded = await withUtilization(() => tok.encodeSegmentsAsync(segments));
    const sliced = await withUtilization(() => inProcess.encodeSegmentsAsync(segments));
    console.log(`${sync.length} ids: event loop busy ${offloaded.busy.toFixed(0)} ms (${offloaded.elu.toFixed(3)}) on the worker, ${sliced.busy.toFixed(0)} ms (${sliced.elu.toFixed(3)}) in slices`);
    expect(offloaded.value).toEqual(sync);
    expect(sliced.value).toEqual(sync);
    expect(offloaded.elu).toBeLessThan(0.3); // 0.04–0.12 measured (the main thread copies the ids)
    expect(sliced.elu).toBeGreaterThan(0.6); // the measure sees an in-process encode
  });

  it('answers concurrent requests each with its own ids', async () => {
    const texts = [2, 3, 4].map(longSegments);
    const got = await Promise.all(texts.map((s) => tok.encodeSegmentsAsync(s)));
    got.forEach((ids, i) => expect(ids).toEqual(inProcess.encodeSegments(texts[i]!)));
  });

  it('checks the token bound in-process first: a text over budget is refused without a worker round trip', async () => {
    const fresh = await loadTokenizer(dir);
    try {
      const t0 = performance.now();
      await expect(fresh.encodeSegmentsAsync([{ text: 'a'.repeat(8 << 20), trusted: false }], { maxTokens: 40_960 })).rejects.toBeInstanceOf(TokenBudgetError);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await fresh.close();
    }
  });

  it('falls back to encoding in-process when the worker cannot load, and after close', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'resident-tok-'));
    cpSync(dir, copy, { recursive: true });
    const orphan = await loadTokenizer(copy);
    rmSync(copy, { recursive: true, force: true }); // the worker finds no files
    const segments = longSegments(5);
    const sync = inProcess.encodeSegments(segments);
    expect(await orphan.encodeSegmentsAsync(segments)).toEqual(sync);
    await orphan.close();
    expect(await orphan.encodeSegmentsAsync(segments)).toEqual(sync);
  });
});
