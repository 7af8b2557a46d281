/** A FIFO mutex: operations run one at a time, in arrival order; a failed one does not block the next. */
export class Lane {
  private tail: Promise<void> = Promise.resolve();
  private depth = 0;

  /** True while an operation runs or waits. */
  get busy(): boolean {
    return this.depth > 0;
  }

  /** Operations running or waiting. */
  get size(): number {
    return this.depth;
  }

  /** Runs `fn` after every operation queued before it has settled; resolves or rejects with `fn`'s result. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.depth++;
    const r = this.tail.then(fn);
    this.tail = r.then(
      () => void this.depth--,
      () => void this.depth--,
    );
    return r;
  }
}
