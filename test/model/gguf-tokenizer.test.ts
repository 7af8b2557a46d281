/**
 * The tokenizer built from a GGUF's `tokenizer.*` metadata reproduces Hugging Face's reference tokenizations
 * (../shared): Qwen3's vocabulary (qwen2 pre-tokenizer, tokenizer-tests/qwen2.*) and Qwen3.5's (qwen35,
 * qwen35-vocab/*.inp/.out), each carried by the GGUF of a generated model made with that tokenizer.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGgufHeader } from '../../engine/model/gguf-reader.js';
import { loadTokenBytes } from '../../engine/tokens/token-bytes.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { ensureModel } from '../support/models.js';
import { qwen35VocabFile, sharedData } from '../support/shared.js';

/** Inputs (each terminated by a `__ggml_vocab_test__` line) and the ids Hugging Face produced for each. */
function vectors(inp: string, out: string): { input: string; ids: number[] }[] {
  const inputs = readFileSync(inp, 'utf8').split('\n__ggml_vocab_test__\n');
  expect(inputs.pop()).toBe('');
  const outputs = readFileSync(out, 'utf8').split('\n');
  if (outputs[outputs.length - 1] === '') outputs.pop();
  expect(outputs.length).toBe(inputs.length);
  return inputs.map((input, i) => ({ input, ids: outputs[i]!.trim() === '' ? [] : outputs[i]!.trim().split(/\s+/).map(Number) }));
}

const qwen3 = sharedData('the tokenizer from a GGUF with Qwen3\'s vocabulary', 'tokenizer-tests/qwen2.inp', 'tokenizer-tests/qwen2.out', 'qwen3-tokenizer/tokenizer.json');
const qwen35 = sharedData('the tokenizer from a GGUF with Qwen3.5\'s vocabulary', 'qwen35-vocab/ggml-vocab-qwen35.gguf');
const qwen35Vocab = qwen35.skip ? undefined : qwen35VocabFile();

describe('tokenizer from GGUF metadata', () => {
  it.skipIf(qwen3.skip)('Qwen3 vocabulary (gpt2 / qwen2): every reference tokenization exactly, same token bytes as the folder', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    expect(m.tokenizer).toBe('qwen3');
    expect(readGgufHeader(m.gguf!).metadata.string('tokenizer.ggml.pre')).toBe('qwen2');
    const tok = await loadTokenizer(m.gguf!);
    const cases = vectors(qwen3.paths[0], qwen3.paths[1]);
    expect(cases.length).toBeGreaterThanOrEqual(46);
    const failures = cases.filter(({ input, ids }) => JSON.stringify(tok.encode(input)) !== JSON.stringify(ids)).map((c) => JSON.stringify(c.input));
    expect(failures).toEqual([]);
    for (const { input, ids } of cases) expect(tok.decode(ids)).toBe(input.normalize('NFC'));
    const [a, b] = [loadTokenBytes(m.dir), loadTokenBytes(m.gguf!)];
    expect(b.size).toBe(a.size);
    expect(b.bytes.every((x, i) => Buffer.from(x).equals(Buffer.from(a.bytes[i]!)))).toBe(true);
    expect(Buffer.from(b.special).equals(Buffer.from(a.special))).toBe(true);
  }, 600_000);

  it.skipIf(qwen35.skip)('Qwen3.5 vocabulary (gpt2 / qwen35): every reference tokenization exactly', async () => {
    const m = await ensureModel('tiny-hybrid', 'bf16', { gguf: true, qwen35Tokenizer: true });
    expect(readGgufHeader(m.gguf!).metadata.string('tokenizer.ggml.pre')).toBe('qwen35');
    const tok = await loadTokenizer(m.gguf!);
    const cases = vectors(`${qwen35Vocab}.inp`, `${qwen35Vocab}.out`);
    expect(cases.length).toBeGreaterThanOrEqual(50);
    const failures = cases.filter(({ input, ids }) => JSON.stringify(tok.encode(input)) !== JSON.stringify(ids)).map((c) => JSON.stringify(c.input));
    expect(failures).toEqual([]);
    for (const { input, ids } of cases) expect(tok.decode(ids)).toBe(input);
  }, 600_000);
});
