/**
 * Generated folders built once (demo model, test model cache, derived reference models): the
 * builder fills a fresh temp folder beside the target, whose files are then fsynced and which is
 * renamed into place, so the target is either absent or complete. Two builders racing (processes or
 * workers) both succeed: the later rename fails with ENOTEMPTY/EEXIST and the earlier folder is kept.
 * See docs/formats.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncPathSync } from '../util/atomic-file.js';
import { MAKE_MODEL_VERSION } from './make-model.js';

/** Folder name of a generated model: `<stem>-v<MAKE_MODEL_VERSION>`, plus `-builtintok` for the built-in tokenizer. */
export function generatedModelName(stem: string, tokenizer: 'qwen3' | 'builtin'): string {
  return `${stem}-v${MAKE_MODEL_VERSION}${tokenizer === 'builtin' ? '-builtintok' : ''}`;
}

/**
 * Makes `dir` exist, built by `build(tmp)` unless `dir/<marker>` already exists. Returns true when
 * this call's folder was put in place, false when one was there already (or another builder won).
 */
export async function buildFolderOnce(dir: string, marker: string, build: (tmp: string) => Promise<unknown>): Promise<boolean> {
  if (existsSync(join(dir, marker))) return false;
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${basename(dir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(tmp);
    await build(tmp);
    fsyncTree(tmp);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      return false;
    }
    fsyncPathSync(parent);
    return true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** fsyncs every file and folder below `dir` (and `dir`), children first. */
function fsyncTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) fsyncTree(join(dir, e.name));
    else if (e.isFile()) fsyncPathSync(join(dir, e.name));
  }
  fsyncPathSync(dir);
}
