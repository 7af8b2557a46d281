import { describe, expect, it } from 'vitest';
import { loadTokenBytes, TokenBytesError } from '../../engine/tokens/token-bytes.js';
import { sharedData } from '../support/shared.js';

const need = sharedData("token bytes of Qwen3's vocabulary", 'qwen3-tokenizer');
const [TOK] = need.paths;

describe.skipIf(!!need.skip)('loadTokenBytes (Qwen3 tokenizer.json)', () => {
  const tb = need.skip ? null! : loadTokenBytes(TOK);
  const dec = new TextDecoder();

  it('covers 151,643 BPE tokens and 26 added tokens', () => {
    expect(tb.size).toBe(151669);
    let special = 0;
    for (let i = 0; i < tb.size; i++) special += tb.special[i];
    expect(special).toBe(26);
    expect(tb.special[151642]).toBe(0);
    expect(tb.special[151643]).toBe(1);
  });

  it('decodes the GPT-2 byte alphabet', () => {
    // id 220 is the single space token "Ġ", 198 is "Ċ" (newline) in Qwen's vocabulary
    expect(Array.from(tb.bytes[220])).toEqual([0x20]);
    expect(Array.from(tb.bytes[198])).toEqual([0x0a]);
    const all = new Set<number>();
    for (let i = 0; i < 151643; i++) if (tb.bytes[i].length === 1) all.add(tb.bytes[i][0]);
    expect(all.size).toBe(256); // every byte has a single-byte token
  });

  it('maps added tokens by content', () => {
    expect(tb.addedTokenId('<|im_end|>')).toBe(151645);
    expect(tb.addedTokenId('<tool_call>')).toBe(151657);
    expect(tb.addedTokenId('</tool_call>')).toBe(151658);
    expect(dec.decode(tb.bytes[151657])).toBe('<tool_call>');
    expect(tb.addedTokenId('<nope>')).toBeUndefined();
  });

  it('accepts the tokenizer.json path too', () => {
    expect(loadTokenBytes(`${TOK}/tokenizer.json`).size).toBe(151669);
  });
});

describe('loadTokenBytes errors', () => {
  it('names a missing tokenizer', () => {
    expect(() => loadTokenBytes('/nonexistent/tokenizer')).toThrow(TokenBytesError);
  });
});
