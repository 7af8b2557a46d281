import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../engine/errors.js';
import { GGUF_MAGIC, GgufValueType as T } from '../../engine/model/gguf-format.js';
import { readGgufHeader, type GgufMetaValue } from '../../engine/model/gguf-reader.js';
import { ensureModel } from '../support/models.js';
import { qwen35VocabFile } from '../support/shared.js';

const root = mkdtempSync(join(tmpdir(), 'resident-gguf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const VOCAB = qwen35VocabFile();
if (!VOCAB) console.warn('gguf-reader: the qwen35 vocabulary comparison is skipped: ../shared/qwen35-vocab/ggml-vocab-qwen35.gguf is missing');

/** node-llama-cpp's nested metadata flattened to dotted keys (arrays kept whole). */
function flatten(o: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

const plain = (v: GgufMetaValue): unknown => (ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : v);

/** Little-endian GGUF bytes, written by hand (not by our writer). */
class Bytes {
  parts: Buffer[] = [];
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); return this; }
  u64(v: bigint | number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  raw(b: Buffer) { this.parts.push(b); return this; }
  str(s: string) { const b = Buffer.from(s, 'utf8'); return this.u64(b.length).raw(b); }
  done() { return Buffer.concat(this.parts); }
}

describe('GGUF reader', () => {
  it.skipIf(!VOCAB)('reads the qwen35 vocabulary GGUF exactly as node-llama-cpp does', async () => {
    const ours = readGgufHeader(VOCAB!);
    const theirs = await readGgufFileInfo(VOCAB!, { readTensorInfo: true });
    expect(ours.version).toBe(theirs.version);
    const ref = flatten(theirs.metadata as unknown as Record<string, unknown>);
    expect([...ours.metadata.entries.keys()].sort()).toEqual([...ref.keys()].sort());
    for (const [k, v] of ours.metadata.entries) expect(plain(v), k).toEqual(ref.get(k));
    expect(ours.metadata.strings('tokenizer.ggml.tokens')).toHaveLength(151936);
    expect(ours.metadata.strings('tokenizer.ggml.merges')).toHaveLength(151387);
    expect(ours.metadata.string('tokenizer.ggml.pre')).toBe('qwen35');
    expect(ours.metadata.number('tokenizer.ggml.eos_token_id')).toBe(151643);
    expect(ours.tensors).toEqual([]);
  });

  it('reads the tensor infos of a generated model GGUF as node-llama-cpp does', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const ours = readGgufHeader(m.gguf!);
    const theirs = await readGgufFileInfo(m.gguf!, { readTensorInfo: true });
    expect(ours.tensors.length).toBeGreaterThan(5);
    expect(ours.tensors.map((t) => [t.name, t.dims, t.type, t.offset])).toEqual(
      theirs.fullTensorInfo!.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]),
    );
    expect(ours.dataOffset % 32).toBe(0);
    expect(ours.metadata.string('general.architecture')).toBe('qwen3');
  });

  it('decodes every value type, nested arrays and 64-bit integers', () => {
    const b = new Bytes().u32(GGUF_MAGIC).u32(3).u64(0).u64(7);
    b.str('a.u8').u32(T.U8).raw(Buffer.from([200]));
    b.str('a.i16').u32(T.I16).raw(Buffer.from([0xfe, 0xff]));
    b.str('a.u64').u32(T.U64).u64(2n ** 60n);
    b.str('a.f64').u32(T.F64).raw(Buffer.from(new Float64Array([0.1]).buffer));
    b.str('a.bools').u32(T.ARRAY).u32(T.BOOL).u64(3).raw(Buffer.from([1, 0, 1]));
    b.str('a.nested').u32(T.ARRAY).u32(T.ARRAY).u64(2).u32(T.STRING).u64(1).str('é').u32(T.U32).u64(2).u32(7).u32(9);
    b.str('a.i64s').u32(T.ARRAY).u32(T.I64).u64(1).raw(Buffer.from(new BigInt64Array([-5n]).buffer));
    const file = join(root, 'types.gguf');
    writeFileSync(file, b.done());
    const md = readGgufHeader(file).metadata;
    expect(md.number('a.u8')).toBe(200);
    expect(md.number('a.i16')).toBe(-2);
    expect(md.get('a.u64')).toBe(2n ** 60n);
    expect(() => md.number('a.u64')).toThrow(ModelLoadError); // beyond the safe integer range
    expect(md.number('a.f64')).toBe(0.1);
    expect(md.get('a.bools')).toEqual([true, false, true]);
    expect(md.get('a.nested')).toEqual([['é'], new Uint32Array([7, 9])]);
    expect(md.get('a.i64s')).toEqual(new BigInt64Array([-5n]));
    expect(() => md.string('a.u8')).toThrow(/metadata 'a.u8' is not a string/);
    expect(() => md.strings('missing')).toThrow(/metadata 'missing' is missing/);
  });

  it('names the file for bad magic, truncation, absurd lengths and invalid UTF-8', () => {
    const write = (name: string, buf: Buffer) => (writeFileSync(join(root, name), buf), join(root, name));
    expect(() => readGgufHeader(write('magic.gguf', Buffer.from('GGML0000')))).toThrow(/magic\.gguf: not a GGUF file/);
    expect(() => readGgufHeader(join(root, 'absent.gguf'))).toThrow(ModelLoadError);
    const header = new Bytes().u32(GGUF_MAGIC).u32(3).u64(0).u64(1).str('k').u32(T.STRING).done();
    expect(() => readGgufHeader(write('trunc.gguf', header))).toThrow(/trunc\.gguf: truncated GGUF/);
    const huge = new Bytes().u32(GGUF_MAGIC).u32(3).u64(0).u64(1).str('k').u32(T.ARRAY).u32(T.U32).u64(2n ** 40n).done();
    expect(() => readGgufHeader(write('huge.gguf', huge))).toThrow(/array length of 1099511627776 does not fit/);
    const utf = new Bytes().u32(GGUF_MAGIC).u32(3).u64(0).u64(1).u64(2).raw(Buffer.from([0xc3, 0x28])).u32(T.U8).raw(Buffer.from([0])).done();
    expect(() => readGgufHeader(write('utf.gguf', utf))).toThrow(/not valid UTF-8/);
    const v1 = new Bytes().u32(GGUF_MAGIC).u32(1).u64(0).u64(0).done();
    expect(() => readGgufHeader(write('v1.gguf', v1))).toThrow(/unsupported GGUF version 1/);
    expect(readFileSync(join(root, 'v1.gguf')).length).toBe(24);
  });
});
