/** Named errors of the sessions floor. Every persisted-format error names the session and the file. */
import { ResidentError } from '../engine/util/resident-error.js';

/** Base class of every sessions error. */
export class SessionError extends ResidentError {
  override name = 'SessionError';
  override code = 'session_error';
  override status = 500;
}

/** No session with this id exists (or it was deleted). */
export class SessionNotFoundError extends SessionError {
  override name = 'SessionNotFoundError';
  override code = 'session_not_found';
  override status = 404;
  override param: string | null = 'session_id';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} not found`);
  }
}

/** An operation with invalid arguments (bad token count, message index, empty session for generate...). */
export class SessionArgumentError extends SessionError {
  override name = 'SessionArgumentError';
  override code = 'invalid_argument';
  override status = 400;
}

/** A journal file failed its checks somewhere before its last record: not a torn tail, real damage. */
export class JournalCorruptError extends SessionError {
  override name = 'JournalCorruptError';
  override code = 'session_damaged';
  override status = 409;
  override param: string | null = 'session_id';
  constructor(
    readonly sessionId: string,
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`journal of session ${sessionId} is corrupt at byte ${offset} (${reason}): ${file}`);
  }
}

/** A KV snapshot file failed its checks (magic, version, checksum, size); it is never loaded. */
export class SnapshotCorruptError extends SessionError {
  override name = 'SnapshotCorruptError';
  override code = 'snapshot_damaged';
  override status = 500;
  constructor(
    readonly sessionId: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`KV snapshot of session ${sessionId} is corrupt (${reason}): ${file}`);
  }
}

/** A snapshot or journal written for another model, weight dtype or KV dtype. */
export class ModelMismatchError extends SessionError {
  override name = 'ModelMismatchError';
  override code = 'session_model_mismatch';
  override status = 409;
  override param: string | null = 'session_id';
  constructor(
    readonly sessionId: string,
    readonly file: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`session ${sessionId} was written for model ${found}, this engine runs ${expected}: ${file}`);
  }
}

/** The session cannot be made resident: every slot is pinned or busy, or it alone exceeds the KV budget. */
export class ResidencyError extends SessionError {
  override name = 'ResidencyError';
  override code = 'overloaded';
  override status = 503;
}

/** Back-pressure: every slot stayed busy for the store's longest slot wait; retry after `retryAfterSeconds`. */
export class SlotWaitError extends ResidencyError {
  override name = 'SlotWaitError';
  override code = 'slots_busy';
  override status = 429;
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(`the server is busy: ${message}; retry after ${retryAfterSeconds} s`);
  }
}

/** One session alone needs more KV bytes than the whole budget (`--kv-budget`): waiting cannot help (HTTP 400). */
export class KvBudgetError extends ResidencyError {
  override name = 'KvBudgetError';
  override code = 'kv_budget_exceeded';
  override status = 400;
}

/** The operation was cancelled through its AbortSignal. */
export class SessionAbortedError extends SessionError {
  override name = 'AbortError';
  override code = 'cancelled';
  override status = 499;
}

/** The session store was closed. */
export class StoreClosedError extends SessionError {
  override name = 'StoreClosedError';
  override code = 'shutting_down';
  override status = 503;
}

/** Errno codes of a full disk or an exhausted quota. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);
/** Errno codes of a data folder that cannot be written at all. */
const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);

/** The disk holding the data folder is full: the write was not acknowledged; retrying succeeds once space is freed (HTTP 507). */
export class StorageFullError extends SessionError {
  override name = 'StorageFullError';
  override code = 'storage_full';
  override status = 507;
}

/** The data folder cannot be written (read-only file system, permissions); names the folder (HTTP 507). */
export class StorageError extends SessionError {
  override name = 'StorageError';
  override code = 'storage_unavailable';
  override status = 507;
}

/** A named storage error for a raw file-system error (ENOSPC, EROFS…), else undefined. `where` names the folder. */
export function storageErrorOf(e: unknown, where?: string): StorageFullError | StorageError | undefined {
  if (e instanceof StorageFullError || e instanceof StorageError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  const path = where ?? (e as NodeJS.ErrnoException).path ?? 'the data folder';
  if (FULL.has(code)) return new StorageFullError(`no space left on the disk holding ${path} (${code}); nothing was written — retry once space is freed`);
  if (UNWRITABLE.has(code)) return new StorageError(`cannot write ${path}: ${code === 'EROFS' ? 'the file system is read-only' : 'permission denied'} (${code})`);
  return undefined;
}
