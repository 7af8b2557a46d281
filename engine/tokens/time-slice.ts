/**
 * Time slicing of long synchronous work (tokenizing megabytes of text) so it never holds the event
 * loop: the work is a generator that calls {@link Slicer.due} in its loops and yields when it
 * returns true. Run synchronously ({@link runToEnd}: never due) or in slices of at most `sliceMs`
 * with the event loop turning in between ({@link runSliced}).
 */
import { setImmediate as turn } from 'node:timers/promises';

/** Longest slice of work between two turns of the event loop, in ms. */
export const SLICE_MS = 8;

/** Work units (≈ 0.1–1 µs each: a heap pop, a regex match, a byte) between two reads of the clock. */
const UNITS_PER_READ = 1024;

/** The clock a sliced generator consults; `due()` is cheap (reads the clock once per 1024 units of work). */
export class Slicer {
  private units = 0;
  /** performance.now() after which work should yield; Infinity when run to the end. */
  deadline = Infinity;

  /** After `units` more units of work: true when the slice is used up (then the generator yields). */
  due(units = 1): boolean {
    this.units += units;
    if (this.units < UNITS_PER_READ) return false;
    this.units = 0;
    return this.deadline !== Infinity && performance.now() > this.deadline;
  }
}

/** A unit of sliced work: yields whenever its slicer is due, returns its result. */
export type SlicedWork<T> = Generator<void, T, void>;

/** Runs `work` to its end without yielding to the event loop. */
export function runToEnd<T>(work: SlicedWork<T>, slicer: Slicer): T {
  slicer.deadline = Infinity;
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/** Runs `work` in slices of about `sliceMs`, letting the event loop turn between slices. */
export async function runSliced<T>(work: SlicedWork<T>, slicer: Slicer, sliceMs = SLICE_MS): Promise<T> {
  for (;;) {
    slicer.deadline = performance.now() + sliceMs;
    const r = work.next();
    if (r.done) return r.value;
    await turn();
  }
}
