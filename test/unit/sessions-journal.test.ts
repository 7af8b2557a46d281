import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournal, JournalWriter, readJournal } from '../../sessions/journal.js';
import {
  decodeJournal, encodeJournalHeader, encodeJson, encodeRecord, encodeTokens, encodeTruncate, JOURNAL_HEADER_BYTES, RecordType,
} from '../../sessions/journal-format.js';
import { replay, stateRecords } from '../../sessions/session-state.js';
import { JournalCorruptError } from '../../sessions/errors.js';
import { repairJournal } from '../../sessions/store-maintenance.js';

const ID = '01TESTSESSION';
const open = () => encodeRecord(RecordType.Open, encodeJson({ id: ID, model: 'm/kv:f16', createdAt: 1 }));
const toks = (t: number[], src: 0 | 1 = 0) => encodeRecord(RecordType.Tokens, encodeTokens(2, src, t));

function sample(): { buf: Buffer; ends: number[] } {
  const recs = [open(), toks([1, 2, 3]), encodeRecord(RecordType.Message, encodeJson({ role: 'user', start: 0, end: 3 })), toks([4, 5], 1), encodeRecord(RecordType.Truncate, encodeTruncate(3, 4)), toks([9])];
  const ends: number[] = [];
  let off = JOURNAL_HEADER_BYTES;
  for (const r of recs) ends.push((off += r.length));
  return { buf: Buffer.concat([encodeJournalHeader(), ...recs]), ends };
}

describe('journal framing', () => {
  it('round-trips records and replays them into state', () => {
    const { buf } = sample();
    const d = decodeJournal(buf, ID, 'j');
    expect(d.tornBytes).toBe(0);
    expect(d.records.map((r) => r.type)).toEqual([1, 2, 4, 2, 3, 2]);
    const s = replay(d.records, ID, 'j');
    expect(s.tokens).toEqual([1, 2, 3, 4, 9]);
    expect(s.generated).toBe(2);
    expect(s.messages).toEqual([{ role: 'user', start: 0, end: 3 }]);
    // compaction records replay to the same state
    const again = replay(decodeJournal(Buffer.concat([encodeJournalHeader(), ...stateRecords(s)]), ID, 'j').records, ID, 'j');
    expect(again.tokens).toEqual(s.tokens);
    expect(again.messages).toEqual(s.messages);
    expect(again.generated).toBe(2);
  });

  it('drops a torn last record at every cut point and keeps everything before it', () => {
    const { buf, ends } = sample();
    const lastStart = ends[ends.length - 2]!;
    for (let cut = lastStart + 1; cut < buf.length; cut++) {
      const d = decodeJournal(buf.subarray(0, cut), ID, 'j');
      expect(d.records.length).toBe(5);
      expect(d.validLength).toBe(lastStart);
      expect(d.tornBytes).toBe(cut - lastStart);
      expect(replay(d.records, ID, 'j').tokens).toEqual([1, 2, 3, 4]);
    }
  });

  it('reports a flipped byte anywhere before the tail as JournalCorruptError naming session and file', () => {
    const { buf, ends } = sample();
    let detected = 0;
    for (let i = 0; i < ends[ends.length - 2]!; i++) {
      const b = Buffer.from(buf);
      b[i] ^= 0x20;
      try {
        const d = decodeJournal(b, ID, '/x/journal.rsj');
        replay(d.records, ID, '/x/journal.rsj');
        throw new Error(`flip at ${i} not detected`);
      } catch (e) {
        expect(e).toBeInstanceOf(JournalCorruptError);
        expect((e as Error).message).toContain(ID);
        expect((e as Error).message).toContain('/x/journal.rsj');
        detected++;
      }
    }
    expect(detected).toBe(ends[ends.length - 2]!);
  });

  it('rejects truncate past the end and a journal without Open', () => {
    const bad = Buffer.concat([encodeJournalHeader(), open(), toks([1]), encodeRecord(RecordType.Truncate, encodeTruncate(0, 5))]);
    expect(() => replay(decodeJournal(bad, ID, 'j').records, ID, 'j')).toThrow(JournalCorruptError);
    const noOpen = Buffer.concat([encodeJournalHeader(), toks([1])]);
    expect(() => replay(decodeJournal(noOpen, ID, 'j').records, ID, 'j')).toThrow(/Open record/);
  });
});

describe('journal files', () => {
  it('group-commits concurrent appends durably, cuts a torn tail on reopen, and repairs damage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsj-'));
    const file = join(dir, 'journal.rsj');
    await createJournal(file, [open()]);
    let w = await JournalWriter.open(file, (await readJournal(file, ID)).validLength);
    await Promise.all(Array.from({ length: 50 }, (_, i) => w.append(toks([i]))));
    await w.close();
    let d = await readJournal(file, ID);
    expect(replay(d.records, ID, file).tokens).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // simulate a torn write
    const full = readFileSync(file);
    writeFileSync(file, Buffer.concat([full, toks([777]).subarray(0, 7)]));
    d = await readJournal(file, ID);
    expect(d.tornBytes).toBe(7);
    w = await JournalWriter.open(file, d.validLength);
    expect(statSync(file).size).toBe(full.length);
    await w.append(toks([51]));
    await w.close();
    expect(replay((await readJournal(file, ID)).records, ID, file).tokens.at(-1)).toBe(51);
    // damage in the middle: detected, then repair keeps the records before it
    const b = readFileSync(file);
    const target = JOURNAL_HEADER_BYTES + open().length + toks([0]).length * 10 + 14;
    b[target] ^= 1;
    writeFileSync(file, b);
    await expect(readJournal(file, ID)).rejects.toBeInstanceOf(JournalCorruptError);
    const report = await repairJournal(file, ID, (r) => replay(r, ID, file));
    expect(report).toEqual({ droppedBytes: b.length - (target - 14), offset: target - 14, reason: 'record checksum mismatch' });
    expect(replay((await readJournal(file, ID)).records, ID, file).tokens).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('treats a last record with a garbage payload, or a zero-filled tail, as torn (power loss), not as damage', () => {
    const { buf, ends } = sample();
    const lastStart = ends[ends.length - 2]!;
    const garbled = Buffer.from(buf);
    garbled.fill(0xab, lastStart + 12); // head intact, payload never reached the disk
    const zeroed = Buffer.from(buf);
    zeroed.fill(0, lastStart); // the file was extended but the last record's blocks are zeros
    const extended = Buffer.concat([buf, Buffer.alloc(4096)]);
    for (const [b, valid, records] of [[garbled, lastStart, 5], [zeroed, lastStart, 5], [extended, buf.length, 6]] as const) {
      const d = decodeJournal(b, ID, 'j');
      expect([d.validLength, d.records.length, d.tornBytes]).toEqual([valid, records, b.length - valid]);
    }
    // A bad record followed by others is damage.
    const middle = Buffer.from(buf);
    middle[ends[1]! + 13] ^= 1;
    expect(() => decodeJournal(middle, ID, 'j')).toThrow(JournalCorruptError);
  });
});
