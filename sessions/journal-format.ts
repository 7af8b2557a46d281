/**
 * Journal framing (pure, no I/O): header, checksummed records, torn-tail rule, record bodies.
 * Layout, checks and atomicity: docs/formats.md.
 */
import { crc32 } from './checksum.js';
import { JournalCorruptError } from './errors.js';

export const JOURNAL_MAGIC = 'RSJ1';
export const JOURNAL_VERSION = 1;
export const JOURNAL_HEADER_BYTES = 16;
export const RECORD_HEAD_BYTES = 12;
/** Largest payload accepted (a guard against absurd lengths). */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export enum RecordType {
  /** JSON {id, model, createdAt, parent?: {id, at}}: must be the first record. */
  Open = 1,
  /** f64 time | u8 source (0 input, 1 generated) | i32 tokens…: appended to the session. */
  Tokens = 2,
  /** f64 time | u32 n: session keeps its first n tokens. */
  Truncate = 3,
  /** JSON MessageSpan: annotates tokens [start, end) as one message. */
  Message = 4,
  /** JSON {tools?, settings?}: replaces the given fields. */
  Meta = 5,
}

export interface JournalRecord {
  type: RecordType;
  body: Buffer;
  /** Byte offset of the record head in the file. */
  offset: number;
}

/** The 16-byte file header. */
export function encodeJournalHeader(): Buffer {
  const b = Buffer.alloc(JOURNAL_HEADER_BYTES);
  b.write(JOURNAL_MAGIC, 0, 'latin1');
  b.writeUInt32LE(JOURNAL_VERSION, 4);
  b.writeUInt32LE(0, 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

/** One framed record. */
export function encodeRecord(type: RecordType, body: Uint8Array): Buffer {
  const len = body.byteLength + 1;
  if (len > MAX_RECORD_BYTES) throw new RangeError(`journal record of ${len} bytes exceeds ${MAX_RECORD_BYTES}`);
  const out = Buffer.allocUnsafe(RECORD_HEAD_BYTES + len);
  out.writeUInt32LE(len, 0);
  out.writeUInt32LE(crc32(out.subarray(0, 4)), 4);
  out[RECORD_HEAD_BYTES] = type;
  out.set(body, RECORD_HEAD_BYTES + 1);
  out.writeUInt32LE(crc32(out.subarray(RECORD_HEAD_BYTES)), 8);
  return out;
}

export interface DecodedJournal {
  records: JournalRecord[];
  /** Bytes of the file that hold good header + records; appends continue here. */
  validLength: number;
  /** Bytes dropped as a torn tail (0 when the file ended cleanly). */
  tornBytes: number;
}

/**
 * Parses a whole journal file. Throws JournalCorruptError (naming session and file) on damage.
 * A torn tail — a short last record, a last record failing its checksum, or trailing zeros — is
 * not damage: it is reported in `tornBytes` and appends continue before it.
 */
export function decodeJournal(buf: Buffer, sessionId: string, file: string): DecodedJournal {
  const fail = (offset: number, reason: string) => new JournalCorruptError(sessionId, file, offset, reason);
  if (buf.length < JOURNAL_HEADER_BYTES) {
    // A crash between creating the file and writing its header cannot happen (created by rename),
    // so a short header is damage.
    throw fail(0, `file is ${buf.length} bytes, shorter than the ${JOURNAL_HEADER_BYTES}-byte header`);
  }
  if (buf.toString('latin1', 0, 4) !== JOURNAL_MAGIC) throw fail(0, 'bad magic');
  if (buf.readUInt32LE(12) !== crc32(buf.subarray(0, 12))) throw fail(0, 'header checksum mismatch');
  const version = buf.readUInt32LE(4);
  if (version !== JOURNAL_VERSION) throw fail(4, `unsupported journal version ${version}`);
  const records: JournalRecord[] = [];
  let off = JOURNAL_HEADER_BYTES;
  while (off < buf.length) {
    const remaining = buf.length - off;
    if (remaining < RECORD_HEAD_BYTES) break; // torn head
    const len = buf.readUInt32LE(off);
    if (buf.readUInt32LE(off + 4) !== crc32(buf.subarray(off, off + 4))) {
      if (allZero(buf, off)) break; // a power loss can leave the file extended with zeros past the last write
      throw fail(off, 'record length checksum mismatch');
    }
    if (len < 1 || len > MAX_RECORD_BYTES) throw fail(off, `record length ${len} out of range`);
    if (len > remaining - RECORD_HEAD_BYTES) break; // torn payload
    const payload = buf.subarray(off + RECORD_HEAD_BYTES, off + RECORD_HEAD_BYTES + len);
    if (buf.readUInt32LE(off + 8) !== crc32(payload)) {
      if (off + RECORD_HEAD_BYTES + len === buf.length) break; // the last record, torn mid-write: drop it like a short one
      throw fail(off, 'record checksum mismatch');
    }
    const type = payload[0]! as RecordType;
    if (!(type in RecordType)) throw fail(off, `unknown record type ${type}`);
    records.push({ type, body: payload.subarray(1), offset: off });
    off += RECORD_HEAD_BYTES + len;
  }
  return { records, validLength: off, tornBytes: buf.length - off };
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Body of a Tokens record. */
export function encodeTokens(time: number, source: 0 | 1, tokens: ArrayLike<number>): Buffer {
  const b = Buffer.allocUnsafe(9 + tokens.length * 4);
  b.writeDoubleLE(time, 0);
  b[8] = source;
  for (let i = 0; i < tokens.length; i++) b.writeInt32LE(tokens[i]!, 9 + i * 4);
  return b;
}

export function decodeTokens(body: Buffer): { time: number; source: number; tokens: number[] } {
  if (body.length < 9 || (body.length - 9) % 4 !== 0) throw new RangeError('bad tokens record size');
  const n = (body.length - 9) / 4;
  const tokens = new Array<number>(n);
  for (let i = 0; i < n; i++) tokens[i] = body.readInt32LE(9 + i * 4);
  return { time: body.readDoubleLE(0), source: body[8]!, tokens };
}

/** Body of a Truncate record. */
export function encodeTruncate(time: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeDoubleLE(time, 0);
  b.writeUInt32LE(n, 8);
  return b;
}

export function decodeTruncate(body: Buffer): { time: number; n: number } {
  if (body.length !== 12) throw new RangeError('bad truncate record size');
  return { time: body.readDoubleLE(0), n: body.readUInt32LE(8) };
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
