/** The sessions folder `<dataDir>/sessions/`: opened writable, and the session folders found in it. */
import { constants } from 'node:fs';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { storageErrorOf } from './errors.js';
import { foreignEntry } from './store-maintenance.js';

/** Creates `root` if needed and checks it is writable; a read-only or full disk is a StorageError naming the folder. */
export async function openSessionsFolder(root: string, dataDir: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true });
    await access(root, constants.W_OK);
  } catch (e) {
    // A recursive mkdir on a read-only file system can fail with ENOENT: ask the data folder itself why.
    const why = await access(dataDir, constants.W_OK).then(() => e, (e2: unknown) => e2);
    throw storageErrorOf(why, `the sessions folder ${root}`) ?? storageErrorOf(e, `the sessions folder ${root}`) ?? e;
  }
}

/**
 * The session folders of `root`, sorted. Dot-entries (an unfinished create or fork, a deleted session) are removed;
 * foreign entries (stray files, folders without a journal) are left as they are, with a warning.
 */
export async function sessionFolders(root: string, warn: (msg: string) => void): Promise<string[]> {
  const names: string[] = [];
  for (const name of (await readdir(root)).sort()) {
    if (name.startsWith('.')) {
      await rm(join(root, name), { recursive: true, force: true });
      continue;
    }
    const foreign = await foreignEntry(root, name);
    if (foreign !== undefined) {
      warn(`ignoring ${join(root, name)}: ${foreign}, not a session`); // not ours to delete
      continue;
    }
    names.push(name);
  }
  return names;
}
