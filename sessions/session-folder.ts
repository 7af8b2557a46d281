/**
 * Creating a session folder `<root>/<id>/` (a new session or a fork): its journal and hard-linked snapshot
 * segments are written in a temp folder `<root>/.tmp-<id>/`, which is then renamed into place, so a folder
 * under its id is never half-written by this process.
 *   - strict durability: every file and folder is fsync'ed before the rename and the root after it: a folder
 *     that exists after a power cut is complete.
 *   - batched: the same writes and rename, with the syncs left to the journal syncer's next round (as journal
 *     appends are): creating a session costs no fsync on the turn's path. A process crash (kill -9) loses
 *     nothing; a power cut within the window may lose the new folder or leave its journal without a record,
 *     which load removes as a creation that never became durable (`holdsNothing`).
 */
import { link, mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '../engine/util/atomic-file.js';
import { createJournal } from './journal.js';
import { decodeJournal, encodeJournalHeader, JOURNAL_HEADER_BYTES } from './journal-format.js';
import type { JournalSyncer, SyncTarget } from './journal-sync.js';
import { kvDir } from './kv-persist.js';

/** A hard link to make in the new folder's kv/ folder: an existing segment file and its name. */
export interface SegmentLink {
  file: string;
  name: string;
}

/**
 * Writes the folder of session `id` (journal = header + `records`). Resolves to whether its journal is still
 * unsynced (batched: open its writer with `{ unsynced: true }` so the next round syncs it).
 */
export async function createSessionFolder(root: string, id: string, records: Buffer[], links: SegmentLink[], syncer: JournalSyncer): Promise<boolean> {
  const tmp = join(root, `.tmp-${id}`);
  const dir = join(root, id);
  const batched = syncer.mode === 'batched';
  await mkdir(kvDir(tmp), { recursive: true });
  const journal = join(tmp, 'journal.rsj');
  if (batched) await writeFile(journal, Buffer.concat([encodeJournalHeader(), ...records]), { flag: 'wx' });
  else await createJournal(journal, records);
  for (const l of links) await link(l.file, join(kvDir(tmp), l.name));
  if (!batched) {
    await fsyncDir(kvDir(tmp));
    await fsyncDir(tmp);
  }
  await rename(tmp, dir);
  if (batched) syncer.dirty(new FolderSync([kvDir(dir), dir, root]));
  else await fsyncDir(root);
  return batched;
}

/** batched: the folders of a new session, fsync'ed in the syncer's next round (the journal syncs itself). */
class FolderSync implements SyncTarget {
  private done = false;

  constructor(private readonly folders: string[]) {}

  async syncNow(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const f of this.folders) {
      // a session deleted before the round has no folder left to sync
      await fsyncDir(f).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  }
}

/**
 * True when a journal file holds no complete record: shorter than its header, all zeros, or a header alone. Our
 * writes never leave one (a folder is created with its records); only a power cut that caught a batched creation
 * before its sync can. Nothing in it can be recovered, so load removes the folder rather than report it damaged.
 */
export async function holdsNothing(file: string): Promise<boolean> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const buf = await fh.readFile();
    if (buf.length < JOURNAL_HEADER_BYTES || buf.every((b) => b === 0)) return true;
    try {
      return decodeJournal(buf, '', file).records.length === 0;
    } catch {
      return false;
    }
  } finally {
    await fh.close();
  }
}
