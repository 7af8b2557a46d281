/** Journal upkeep: compaction after many rollbacks, repair of a damaged journal (docs/formats.md). */
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { JournalCorruptError } from './errors.js';
import { createJournal, JournalWriter } from './journal.js';
import { decodeJournal, JOURNAL_HEADER_BYTES, type JournalRecord } from './journal-format.js';
import { stateRecords, type SessionState } from './session-state.js';

/** Journals larger than this multiple of their compacted size (plus 1 MiB) are rewritten. */
const SLACK = 4;

/** Rewrites the journal as the minimal records of `state` (atomic replace) when it has grown large. */
export async function compactIfLarge(w: JournalWriter, state: SessionState): Promise<JournalWriter> {
  const compact = stateRecords(state);
  const size = JOURNAL_HEADER_BYTES + compact.reduce((a, b) => a + b.length, 0);
  if (w.bytes <= SLACK * size + (1 << 20)) return w;
  await w.close();
  await createJournal(w.file, compact);
  return JournalWriter.open(w.file, size, w.syncer);
}

/** What a repair cut from a journal. */
export interface RepairReport {
  /** Bytes cut from the end of the journal (0: nothing was wrong). */
  droppedBytes: number;
  /** Byte offset of the first bad record, where the journal now ends. */
  offset?: number;
  /** Why that record was bad. */
  reason?: string;
}

/**
 * Cuts a damaged journal just before its first bad record (keeping everything before it): a
 * record failing its checks, or one whose replay is impossible (`replay` throws on it).
 * Throws the JournalCorruptError again when the damage is in the header or the Open record.
 */
export async function repairJournal(file: string, sessionId: string, replay: (records: JournalRecord[]) => void): Promise<RepairReport> {
  const buf = await readFile(file);
  let bad: JournalCorruptError;
  try {
    replay(decodeJournal(buf, sessionId, file).records);
    return { droppedBytes: 0 };
  } catch (e) {
    if (!(e instanceof JournalCorruptError) || e.offset <= JOURNAL_HEADER_BYTES) throw e;
    bad = e;
  }
  const fh = await open(file, 'r+');
  try {
    await fh.truncate(bad.offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { droppedBytes: buf.length - bad.offset, offset: bad.offset, reason: bad.reason };
}

/** Why a folder entry of `sessions/` is not a session (a stray file, a folder without journal), or undefined. */
export async function foreignEntry(root: string, name: string): Promise<string | undefined> {
  const st = await stat(join(root, name)).catch(() => undefined);
  if (!st) return 'vanished';
  if (!st.isDirectory()) return 'not a folder';
  const j = await stat(join(root, name, 'journal.rsj')).catch(() => undefined);
  if (!j?.isFile()) return 'no journal.rsj';
  return undefined;
}
