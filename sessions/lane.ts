/** A FIFO mutex: operations on one session run one at a time, in arrival order. */
export class Lane {
  private tail: Promise<void> = Promise.resolve();
  private depth = 0;

  /** True while an operation runs or waits. */
  get busy(): boolean {
    return this.depth > 0;
  }

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
