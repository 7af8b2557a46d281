/**
 * Recurrent-state checkpoint files `kv/<position>.rst` (hybrid models; layout in docs/formats.md): the
 * state after `position` tokens, valid only for the token prefix its prefixHash names. Written
 * atomically; every check (magic, version, header CRC, model, size, data CRC) before use.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-file.js';
import { crc32, prefixHash } from './checksum.js';
import { ModelMismatchError, SnapshotCorruptError } from './errors.js';
import { kvDir, quarantine } from './kv-persist.js';
import type { StateCheckpoints } from './state-checkpoints.js';

export const STATE_MAGIC = 'RSST';
export const STATE_VERSION = 1;

export interface StateHeader {
  format: 'resident-state';
  model: string;
  stateBytes: number;
  position: number;
  /** prefixHash(tokens, position): the tokens the state was computed from. */
  prefixHash: string;
  /** CRC32 of the state bytes. */
  dataCrc: number;
  createdAt: number;
}

/** State file name for the state after `position` tokens. */
export function stateName(position: number): string {
  return `${String(position).padStart(10, '0')}.rst`;
}

export function parseStateName(name: string): number | null {
  const m = /^(\d{10})\.rst$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Writes one state file atomically. */
export async function writeStateFile(file: string, head: Omit<StateHeader, 'format' | 'dataCrc' | 'createdAt'>, data: Buffer): Promise<void> {
  if (data.length !== head.stateBytes) throw new RangeError(`state of ${data.length} bytes, header says ${head.stateBytes}`);
  const header: StateHeader = { format: 'resident-state', ...head, dataCrc: crc32(data), createdAt: Date.now() };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const h = Buffer.alloc(16);
  h.write(STATE_MAGIC, 0, 'latin1');
  h.writeUInt32LE(STATE_VERSION, 4);
  h.writeUInt32LE(json.length, 8);
  h.writeUInt32LE(crc32(json), 12);
  await writeFileAtomic(file, (async function* () {
    yield h;
    yield json;
    yield data;
  })());
}

/** Reads and checks a state file. Throws SnapshotCorruptError on damage, ModelMismatchError for another model. */
export async function readStateFile(file: string, sessionId: string, model: string, stateBytes: number): Promise<{ header: StateHeader; data: Buffer }> {
  const bad = (why: string) => new SnapshotCorruptError(sessionId, file, why);
  const b = await readFile(file);
  if (b.length < 16) throw bad(`file is ${b.length} bytes, shorter than its header`);
  if (b.toString('latin1', 0, 4) !== STATE_MAGIC) throw bad('bad magic');
  const version = b.readUInt32LE(4);
  if (version !== STATE_VERSION) throw bad(`unsupported state file version ${version}`);
  const jl = b.readUInt32LE(8);
  if (jl > 1 << 20 || 16 + jl > b.length) throw bad(`header length ${jl} out of range`);
  const json = b.subarray(16, 16 + jl);
  if (crc32(json) !== b.readUInt32LE(12)) throw bad('header checksum mismatch');
  let header: StateHeader;
  try {
    header = JSON.parse(json.toString('utf8')) as StateHeader;
  } catch {
    throw bad('header is not JSON');
  }
  if (header.format !== 'resident-state' || !(header.position >= 0)) throw bad('header fields invalid');
  if (header.model !== model) throw new ModelMismatchError(sessionId, file, model, header.model);
  if (header.stateBytes !== stateBytes) throw new ModelMismatchError(sessionId, file, `${model} (${stateBytes} state bytes)`, `${header.model} (${header.stateBytes} state bytes)`);
  if (b.length !== 16 + jl + stateBytes) throw bad(`file is ${b.length} bytes, expected ${16 + jl + stateBytes} (truncated or extended)`);
  const data = Buffer.from(b.subarray(16 + jl));
  if (crc32(data) !== header.dataCrc) throw bad('state checksum mismatch');
  return { header, data };
}

/**
 * Loads a session's state files into `into` (as persisted checkpoints). Files for positions whose tokens
 * changed are deleted; damaged or foreign ones are quarantined and reported through `warn`.
 */
export async function loadStateFiles(
  sessionDir: string,
  sessionId: string,
  model: string,
  tokens: readonly number[],
  into: StateCheckpoints,
  warn: (msg: string) => void,
): Promise<void> {
  if (!into.enabled) return;
  const dir = kvDir(sessionDir);
  for (const name of (await readdir(dir)).sort()) {
    const pos = parseStateName(name);
    if (pos === null) continue;
    const file = join(dir, name);
    try {
      const { header, data } = await readStateFile(file, sessionId, model, into.stateBytes);
      if (header.position !== pos) throw new SnapshotCorruptError(sessionId, file, `file name says position ${pos}, header ${header.position}`);
      if (pos > tokens.length || prefixHash(tokens, pos) !== header.prefixHash) await rm(file, { force: true });
      else into.add(pos, data, true);
    } catch (e) {
      warn(`${(e as Error).name}: ${(e as Error).message}`);
      await quarantine(file);
    }
  }
}

/**
 * Makes `kv/` hold exactly the session's checkpoints: writes the unpersisted ones, deletes state files of
 * evicted or invalidated ones. Returns files written.
 */
export async function persistCheckpoints(sessionDir: string, model: string, tokens: readonly number[], cps: StateCheckpoints): Promise<number> {
  if (!cps.enabled) return 0;
  const dir = kvDir(sessionDir);
  let written = 0;
  for (const c of cps.all()) {
    if (c.persisted) continue;
    await writeStateFile(join(dir, stateName(c.position)), { model, stateBytes: cps.stateBytes, position: c.position, prefixHash: prefixHash(tokens, c.position) }, c.bytes);
    c.persisted = true;
    written++;
  }
  const keep = new Set(cps.all().map((c) => stateName(c.position)));
  for (const name of await readdir(dir)) if (parseStateName(name) !== null && !keep.has(name)) await rm(join(dir, name), { force: true });
  return written;
}
