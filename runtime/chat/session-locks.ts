/** Per-session turn locks: a turn (append, generate, close) runs alone on its session, in arrival order. */
export class SessionLocks {
  private tails = new Map<string, { tail: Promise<void>; waiting: number }>();

  /** True while a holder or waiter exists for `id`. */
  isLocked(id: string): boolean {
    return this.tails.has(id);
  }

  /** Resolves to a release function once `id` is free. Release exactly once. */
  async acquire(id: string): Promise<() => void> {
    let entry = this.tails.get(id);
    if (!entry) this.tails.set(id, (entry = { tail: Promise.resolve(), waiting: 0 }));
    entry.waiting++;
    const prev = entry.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    entry.tail = prev.then(() => mine);
    await prev;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const e = this.tails.get(id)!;
      if (--e.waiting === 0) this.tails.delete(id);
      release();
    };
  }
}
