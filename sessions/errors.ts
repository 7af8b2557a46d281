/** Named errors of the sessions floor. Every persisted-format error names the session and the file. */

/** Base class of every sessions error. */
export class SessionError extends Error {
  override name = 'SessionError';
}

/** No session with this id exists (or it was deleted). */
export class SessionNotFoundError extends SessionError {
  override name = 'SessionNotFoundError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} not found`);
  }
}

/** An operation with invalid arguments (bad token count, message index, empty session for generate...). */
export class SessionArgumentError extends SessionError {
  override name = 'SessionArgumentError';
}

/** A journal file failed its checks somewhere before its last record: not a torn tail, real damage. */
export class JournalCorruptError extends SessionError {
  override name = 'JournalCorruptError';
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
}

/** Back-pressure: every slot stayed busy for the store's longest slot wait; retry after `retryAfterSeconds`. */
export class SlotWaitError extends ResidencyError {
  override name = 'SlotWaitError';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** The operation was cancelled through its AbortSignal. */
export class SessionAbortedError extends SessionError {
  override name = 'AbortError';
}

/** The session store was closed. */
export class StoreClosedError extends SessionError {
  override name = 'StoreClosedError';
}
