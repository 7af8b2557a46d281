import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSegmentData, readSegmentInfo, segmentName, parseSegmentName, verifySegment, writeSegment } from '../../sessions/snapshot.js';
import { ModelMismatchError, SnapshotCorruptError } from '../../sessions/errors.js';
import { prefixHash } from '../../sessions/checksum.js';

const BPT = 48;
const kvOf = (s: number, e: number) => {
  const b = Buffer.alloc((e - s) * BPT);
  for (let i = 0; i < b.length; i++) b[i] = (s * 31 + i * 7) & 0xff;
  return b;
};

async function make(dir: string, start = 5, end = 45) {
  const all = Array.from({ length: end }, (_, i) => 1000 + i);
  const file = join(dir, segmentName(start, end));
  await writeSegment(file, { model: 'fp/kv:f16', bytesPerToken: BPT, start, end, prefixHash: prefixHash(all, start) }, all.slice(start), 8, async (a, b) => kvOf(a, b));
  return { file, all };
}

describe('KV snapshot segments', () => {
  it('round-trip: head, tokens and every chunk at the right position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rkv-'));
    const { file, all } = await make(dir);
    expect(parseSegmentName(segmentName(5, 45))).toEqual({ start: 5, end: 45 });
    const info = await readSegmentInfo(file, 'S', 'fp/kv:f16', BPT);
    expect(info.header).toMatchObject({ start: 5, end: 45, chunks: 5, prefixHash: prefixHash(all, 5) });
    expect(info.tokens).toEqual(all.slice(5));
    const got: Buffer[] = [];
    await loadSegmentData(info, 'S', 45, async (at, data) => {
      expect(data.equals(kvOf(at, at + data.length / BPT))).toBe(true);
      got.push(data);
    });
    expect(Buffer.concat(got).length).toBe(40 * BPT);
    // a slow consumer: the next chunk is read meanwhile, into the other buffer; calls never overlap
    let active = 0;
    await loadSegmentData(info, 'S', 45, async (at, data) => {
      expect(++active).toBe(1);
      await new Promise((r) => setTimeout(r, 5));
      expect(data.equals(kvOf(at, at + data.length / BPT))).toBe(true);
      active--;
    });
    // upTo stops after the chunk covering it
    let n = 0;
    await loadSegmentData(info, 'S', 14, async () => void n++);
    expect(n).toBe(2);
  });

  it('refuses another model or KV layout with ModelMismatchError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rkv-'));
    const { file } = await make(dir);
    await expect(readSegmentInfo(file, 'S', 'other/kv:f16', BPT)).rejects.toBeInstanceOf(ModelMismatchError);
    await expect(readSegmentInfo(file, 'S', 'fp/kv:f16', BPT * 2)).rejects.toBeInstanceOf(ModelMismatchError);
  });

  it('detects every flipped byte and every truncation, never delivering a bad chunk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rkv-'));
    const { file } = await make(dir);
    const good = readFileSync(file);
    const positions = [0, 3, 5, 9, 13, 20, 40, 200, 230, good.length - 400, good.length - 50, good.length - 1];
    for (const p of positions) {
      const b = Buffer.from(good);
      b[p] ^= 0x01;
      writeFileSync(file, b);
      const err = await verifySegment(file, 'S', 'fp/kv:f16', BPT).then(() => null, (e) => e);
      expect(err, `flip at ${p}`).toBeInstanceOf(SnapshotCorruptError);
      expect(err.message).toContain('S');
      expect(err.message).toContain(file);
    }
    for (const cut of [0, 10, 100, good.length - 1, good.length - BPT]) {
      writeFileSync(file, good.subarray(0, cut));
      await expect(verifySegment(file, 'S', 'fp/kv:f16', BPT)).rejects.toBeInstanceOf(SnapshotCorruptError);
    }
    // a flip in the last chunk: the earlier chunks are delivered, the bad one is not
    const b = Buffer.from(good);
    b[good.length - 5] ^= 0x80;
    writeFileSync(file, b);
    const info = await readSegmentInfo(file, 'S', 'fp/kv:f16', BPT);
    const seen: number[] = [];
    await expect(loadSegmentData(info, 'S', 45, async (at) => void seen.push(at))).rejects.toBeInstanceOf(SnapshotCorruptError);
    expect(seen).toEqual([5, 13, 21, 29]);
  });
});
