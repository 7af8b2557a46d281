import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { buildSafetensorsHeader, readSafetensorsHeader } from '../../engine/model/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'resident-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a safetensors file from a raw header object and `dataBytes` zero bytes. */
function rawFile(name: string, header: unknown, dataBytes: number, headerText?: string): string {
  const text = headerText ?? JSON.stringify(header);
  const body = Buffer.from(text);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([len, body, Buffer.alloc(dataBytes)]));
  return file;
}

function expectError(fn: () => unknown, cls: typeof ModelLoadError, file: string, tensor?: string, text?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    const e = err as ModelLoadError;
    expect(e.file).toBe(file);
    expect(e.message).toContain(file);
    if (tensor) {
      expect(e.tensor).toBe(tensor);
      expect(e.message).toContain(tensor);
    }
    if (text) expect(e.message).toMatch(text);
    return;
  }
  throw new Error('expected an error');
}

describe('safetensors header', () => {
  it('round-trips a built header with absolute offsets and metadata', () => {
    const tensors = [
      { name: 'a', dtype: 'f32' as const, shape: [2, 3] },
      { name: 'b', dtype: 'bf16' as const, shape: [5] },
      { name: 'c', dtype: 'f16' as const, shape: [] },
    ];
    const { prefix, dataBytes } = buildSafetensorsHeader(tensors, { format: 'pt' });
    expect(prefix.length % 8).toBe(0);
    const file = join(dir, 'ok.safetensors');
    writeFileSync(file, Buffer.concat([prefix, Buffer.alloc(dataBytes)]));
    const h = readSafetensorsHeader(file);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.dataStart).toBe(prefix.length);
    expect(h.tensors.map((t) => [t.name, t.dtype, t.shape, t.offset - h.dataStart, t.nbytes])).toEqual([
      ['a', 'f32', [2, 3], 0, 24],
      ['b', 'bf16', [5], 24, 10],
      ['c', 'f16', [], 34, 2],
    ]);
  });

  it('rejects unsupported dtypes, naming file and tensor', () => {
    const f = rawFile('i8.safetensors', { w: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, 4);
    expectError(() => readSafetensorsHeader(f), UnsupportedModelError, f, 'w', /I8/);
  });

  it('rejects a truncated file (data past the end)', () => {
    const f = rawFile('trunc.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 16);
    truncateSync(f, 8 + JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }).length + 10);
    expectError(() => readSafetensorsHeader(f), ModelLoadError, f, 'w', /past the end/);
  });

  it('rejects a header longer than the file', () => {
    const f = join(dir, 'short.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1000n);
    writeFileSync(f, b);
    expectError(() => readSafetensorsHeader(f), ModelLoadError, f, undefined, /header length/);
    const tiny = join(dir, 'tiny.safetensors');
    writeFileSync(tiny, Buffer.alloc(3));
    expectError(() => readSafetensorsHeader(tiny), ModelLoadError, tiny, undefined, /too short/);
  });

  it('rejects bad header JSON', () => {
    const f = rawFile('badjson.safetensors', null, 0, '{"w": {"dtype": "F32", ');
    expectError(() => readSafetensorsHeader(f), ModelLoadError, f, undefined, /not valid JSON/);
    const g = rawFile('array.safetensors', null, 0, '[1, 2]');
    expectError(() => readSafetensorsHeader(g), ModelLoadError, g, undefined, /not a JSON object/);
  });

  it('rejects size mismatches, reversed offsets, bad shapes and overlaps', () => {
    const size = rawFile('size.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, 16);
    expectError(() => readSafetensorsHeader(size), ModelLoadError, size, 'w', /needs 12/);
    const rev = rawFile('rev.safetensors', { w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 16);
    expectError(() => readSafetensorsHeader(rev), ModelLoadError, rev, 'w', /reversed/);
    const shape = rawFile('shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4);
    expectError(() => readSafetensorsHeader(shape), ModelLoadError, shape, 'w', /shape/);
    const ov = rawFile(
      'overlap.safetensors',
      { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } },
      16,
    );
    expectError(() => readSafetensorsHeader(ov), ModelLoadError, ov, 'b', /overlaps/);
  });

  it('names a missing file', () => {
    const f = join(dir, 'nope.safetensors');
    expectError(() => readSafetensorsHeader(f), ModelLoadError, f, undefined, /cannot open/);
  });
});
