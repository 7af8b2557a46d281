/**
 * Path confinement for the file tools. A path given by the model is resolved against the root and
 * must stay inside it lexically (no `..` escape, absolute paths only within the root, no
 * percent-encoded separators or dots, no NUL/backslash) and physically (the realpath of the target,
 * or of its nearest existing ancestor for writes, lies inside the realpath of the root).
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { FileToolError, PathEscapeError } from '../errors.js';

/** A checked location inside the root. */
export interface ConfinedPath {
  /** Absolute path with symlinks resolved (for existing targets) — the path to operate on. */
  real: string;
  /** Path relative to the root, `/`-separated, for messages (`.` for the root). */
  relative: string;
}

/** A root folder the file tools are confined to. Create with `ConfinedRoot.open`. */
export class ConfinedRoot {
  /** `real` is the realpath of the root; `given` the root as configured (absolute, maybe via symlinks). */
  private constructor(readonly real: string, readonly given: string) {}

  /** Opens `root` (must exist and be a directory); throws `FileToolError` otherwise. */
  static async open(root: string): Promise<ConfinedRoot> {
    let real: string;
    try {
      real = await realpath(path.resolve(root));
    } catch {
      throw new FileToolError(`file-tool root '${root}' does not exist`);
    }
    if (!(await lstat(real)).isDirectory()) throw new FileToolError(`file-tool root '${root}' is not a directory`);
    return new ConfinedRoot(real, path.resolve(root));
  }

  /** True when absolute `p` equals the root or lies below it. */
  contains(p: string): boolean {
    return isBelow(path.relative(this.real, p));
  }

  /** `/`-separated path relative to the root. */
  relativeOf(p: string): string {
    return path.relative(this.real, p).split(path.sep).join('/') || '.';
  }

  /** Lexical check of a model-supplied path; returns the absolute (not yet realpath'd) location. */
  lexical(input: unknown): string {
    if (typeof input !== 'string') throw new PathEscapeError('path must be a string', String(input));
    const p = input.trim() === '' ? '.' : input;
    if (p.includes('\0')) throw new PathEscapeError('path contains a NUL byte', p);
    if (p.includes('\\')) throw new PathEscapeError(`path '${p}' contains a backslash; use '/' separators`, p);
    if (/%(2e|2f|5c|25|00)/i.test(p)) throw new PathEscapeError(`path '${p}' contains percent-encoded characters (%2e, %2f, %5c, %25, %00 are refused)`, p);
    if (/^~(\/|$)/.test(p)) throw new PathEscapeError(`path '${p}': '~' is not expanded; use a path relative to the root`, p);
    let abs = path.isAbsolute(p) ? path.normalize(p) : path.resolve(this.real, p);
    const viaGiven = path.relative(this.given, abs);
    if (path.isAbsolute(p) && this.given !== this.real && isBelow(viaGiven)) {
      abs = path.join(this.real, viaGiven); // an absolute path spelled with the configured root
    }
    if (!this.contains(abs)) {
      throw new PathEscapeError(path.isAbsolute(p) ? `absolute path '${p}' is outside the root` : `path '${p}' escapes the root`, p);
    }
    return abs;
  }

  /** Resolves an existing target (following symlinks) and checks it stays inside. */
  async existing(input: unknown): Promise<ConfinedPath> {
    const abs = this.lexical(input);
    let real: string;
    try {
      real = await realpath(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new FileToolError(`'${this.relativeOf(abs)}' does not exist`);
      throw new FileToolError(`cannot access '${this.relativeOf(abs)}': ${code ?? (err as Error).message}`);
    }
    if (!this.contains(real)) throw new PathEscapeError(`'${String(input)}' resolves (through a symlink) outside the root`, String(input));
    return { real, relative: this.relativeOf(real) };
  }

  /**
   * Resolves a write target: the parent folder is created if `createDirs` (checked at every level),
   * its realpath must be inside the root, and an existing target that is a symlink must point inside.
   * Returns the real path to replace.
   */
  async forWrite(input: unknown, createDirs: boolean): Promise<ConfinedPath> {
    const abs = this.lexical(input);
    if (abs === this.real) throw new FileToolError('cannot write to the root folder itself');
    const parent = await this.realParent(path.dirname(abs), createDirs, String(input));
    const target = path.join(parent, path.basename(abs));
    let st;
    try {
      st = await lstat(target);
    } catch {
      return { real: target, relative: this.relativeOf(target) };
    }
    if (st.isSymbolicLink()) return this.existing(path.relative(this.real, target) || '.');
    if (st.isDirectory()) throw new FileToolError(`'${this.relativeOf(target)}' is a directory`);
    return { real: target, relative: this.relativeOf(target) };
  }

  private async realParent(dir: string, create: boolean, shown: string): Promise<string> {
    // Walk down from the root one component at a time so no existing symlink is followed unchecked.
    const parts = path.relative(this.real, dir).split(path.sep).filter((x) => x !== '');
    let cur = this.real;
    for (const part of parts) {
      const next = path.join(cur, part);
      let real: string;
      try {
        real = await realpath(next);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new FileToolError(`cannot access '${this.relativeOf(next)}'`);
        if (!create) throw new FileToolError(`folder '${this.relativeOf(next)}' does not exist (set create_dirs to create it)`);
        await mkdir(next);
        real = await realpath(next);
      }
      if (!this.contains(real)) throw new PathEscapeError(`'${shown}' goes through a symlink that leaves the root`, shown);
      if (!(await lstat(real)).isDirectory()) throw new FileToolError(`'${this.relativeOf(real)}' is not a folder`);
      cur = real;
    }
    return cur;
  }
}

/** True when a `path.relative` result stays at or below its base. */
function isBelow(rel: string): boolean {
  return !path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`);
}
