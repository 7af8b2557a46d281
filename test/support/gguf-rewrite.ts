/**
 * Byte-level GGUF rewrites for tests: split a file into a `NAME-0000k-of-0000N.gguf` set the way llama.cpp's
 * gguf-split does (every tensor's bytes copied as is; the first file keeps the metadata, every file gets
 * split.no / split.count / split.tensors.count), and retype one tensor's info (to test refusals).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readGgufHeader } from '../../engine/model/gguf-reader.js';

const ALIGN = 32;

/** Byte offset where the tensor infos start (after the key/values), found by walking the header. */
function kvEnd(buf: Buffer): number {
  let p = 24;
  const nKv = Number(buf.readBigUInt64LE(16));
  const SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type: number): void => {
    if (type === 8) p += 8 + Number(buf.readBigUInt64LE(p));
    else if (type === 9) {
      const elem = buf.readUInt32LE(p);
      const n = Number(buf.readBigUInt64LE(p + 4));
      p += 12;
      for (let i = 0; i < n; i++) value(elem);
    } else p += SIZE[type]!;
  };
  for (let i = 0; i < nKv; i++) {
    p += 8 + Number(buf.readBigUInt64LE(p));
    const type = buf.readUInt32LE(p);
    p += 4;
    value(type);
  }
  return p;
}

const str = (s: string) => {
  const b = Buffer.from(s);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([n, b]);
};
const kv = (key: string, type: number, v: Buffer) => Buffer.concat([str(key), Buffer.from(new Uint32Array([type]).buffer), v]);
const u16 = (v: number) => Buffer.from(new Uint16Array([v]).buffer);
const pad = (n: number) => Buffer.alloc((ALIGN - (n % ALIGN)) % ALIGN);

/** Writes `src` as `parts` split files `<dir>/<name>-0000k-of-0000N.gguf` (tensors dealt out in order); returns their paths. */
export function splitGguf(src: string, dir: string, name: string, parts: number): string[] {
  const buf = readFileSync(src);
  const h = readGgufHeader(src);
  const kvBytes = buf.subarray(24, kvEnd(buf));
  const per = Math.ceil(h.tensors.length / parts);
  const files: string[] = [];
  for (let k = 0; k < parts; k++) {
    const tensors = h.tensors.slice(k * per, (k + 1) * per);
    const splitKv = [
      kv('split.no', 2, u16(k)), kv('split.count', 2, u16(parts)), kv('split.tensors.count', 5, Buffer.from(new Int32Array([h.tensors.length]).buffer)),
    ];
    const head = [Buffer.from('GGUF'), Buffer.from(new Uint32Array([3]).buffer)];
    const counts = Buffer.alloc(16);
    counts.writeBigUInt64LE(BigInt(tensors.length), 0);
    counts.writeBigUInt64LE(BigInt((k === 0 ? Number(buf.readBigUInt64LE(16)) : 0) + splitKv.length), 8);
    const infos: Buffer[] = [];
    const datas: Buffer[] = [];
    let off = 0;
    tensors.forEach((t, i) => {
      const end = i + 1 < tensors.length || k * per + i + 1 < h.tensors.length ? h.tensors[k * per + i + 1]!.offset : buf.length - h.dataOffset;
      const bytes = buf.subarray(h.dataOffset + t.offset, h.dataOffset + end);
      const dims = Buffer.alloc(8 * t.dims.length);
      t.dims.forEach((d, j) => dims.writeBigUInt64LE(BigInt(d), 8 * j));
      const o = Buffer.alloc(8);
      o.writeBigUInt64LE(BigInt(off));
      infos.push(str(t.name), Buffer.from(new Uint32Array([t.dims.length]).buffer), dims, Buffer.from(new Uint32Array([t.type]).buffer), o);
      datas.push(bytes, pad(bytes.length));
      off += bytes.length + pad(bytes.length).length;
    });
    const header = Buffer.concat([...head, counts, ...(k === 0 ? [kvBytes] : []), ...splitKv, ...infos]);
    const file = join(dir, `${name}-${String(k + 1).padStart(5, '0')}-of-${String(parts).padStart(5, '0')}.gguf`);
    writeFileSync(file, Buffer.concat([header, pad(header.length), ...datas]));
    files.push(file);
  }
  return files;
}

/** A copy of `src` at `out` with tensor `tensor`'s ggml type id set to `type` (its data untouched). */
export function retypeTensor(src: string, out: string, tensor: string, type: number): void {
  const buf = Buffer.from(readFileSync(src));
  const h = readGgufHeader(src);
  const t = h.tensors.find((x) => x.name === tensor);
  if (!t) throw new Error(`${src} has no tensor ${tensor}`);
  const at = buf.indexOf(str(tensor), kvEnd(buf));
  buf.writeUInt32LE(type, at + 8 + Buffer.byteLength(tensor) + 4 + 8 * t.dims.length);
  writeFileSync(out, buf);
}

/** Where the f16 super-scale `d` sits in each block, and the block's bytes (ggml's layouts). */
const SCALE_AT: Record<number, { at: number; bytes: number }> = { 8: { at: 0, bytes: 34 }, 12: { at: 0, bytes: 144 }, 14: { at: 208, bytes: 210 } };

/**
 * Writes `out`: `src` with the f16 scale `d` of blocks `blocks` of `tensor` (Q8_0, Q4_K or Q6_K) rewritten by
 * `edit(bits) → bits` — a stand-in for a kernel that misreads those scales (a test shows the comparison catches it).
 */
export function editBlockScales(src: string, out: string, tensor: string, blocks: number[] | 'all', edit: (bits: number) => number): void {
  const h = readGgufHeader(src);
  const t = h.tensors.find((x) => x.name === tensor);
  if (!t) throw new Error(`${src}: no tensor ${tensor}`);
  const layout = SCALE_AT[t.type];
  if (!layout) throw new Error(`${src}: ${tensor} has ggml type ${t.type}, not Q8_0 / Q4_K / Q6_K`);
  const buf = readFileSync(src);
  const n = (t.dims.reduce((a, b) => a * b, 1) / (t.type === 8 ? 32 : 256)) | 0;
  for (const b of blocks === 'all' ? Array.from({ length: n }, (_, i) => i) : blocks) {
    const p = h.dataOffset + t.offset + b * layout.bytes + layout.at;
    buf.writeUInt16LE(edit(buf.readUInt16LE(p)) & 0xffff, p);
  }
  writeFileSync(out, buf);
}
