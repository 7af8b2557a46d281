/** Journal upkeep: compaction after many rollbacks, repair of a damaged journal (docs/formats.md). */
import { open, readFile } from 'node:fs/promises';
import { JournalCorruptError } from './errors.js';
import { createJournal, JournalWriter } from './journal.js';
import { decodeJournal, JOURNAL_HEADER_BYTES } from './journal-format.js';
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

/**
 * Cuts a damaged journal just before its first bad record (keeping everything before it).
 * Throws the JournalCorruptError again when the damage is in the header or the Open record.
 */
export async function repairJournal(file: string, sessionId: string): Promise<number> {
  const buf = await readFile(file);
  try {
    decodeJournal(buf, sessionId, file);
    return 0;
  } catch (e) {
    if (!(e instanceof JournalCorruptError) || e.offset <= JOURNAL_HEADER_BYTES) throw e;
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(e.offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return buf.length - e.offset;
  }
}
