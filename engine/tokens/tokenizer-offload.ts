/**
 * Encoding of long texts on a worker thread: megabytes of text (and the garbage their encoding makes) never hold
 * the event loop, which keeps serving other requests and /health. One worker per model folder, started at the
 * first long text and loading the same files, so its ids are the in-process tokenizer's; requests run one after
 * another in arrival order. A worker that fails to start or dies answers its pending requests with null (the caller
then encodes in-process, in slices) and is not restarted.
 */
import { Worker } from 'node:worker_threads';
import { TokenizerError } from './errors.js';
import type { SegmentsOptions, TextSegment } from './tokenizer.js';

/** Texts of at least this many UTF-16 units in total are encoded on the worker (shorter ones take a few ms). */
export const OFFLOAD_CHARS = 1 << 16;

/** What the worker is asked. */
export interface OffloadRequest {
  id: number;
  segments: readonly TextSegment[];
  opts: OffloadOptions;
}

/** The options a worker takes (the caller checks the token bound first, in-process). */
export type OffloadOptions = Pick<SegmentsOptions, 'allowAdded'>;

/** What the worker answers: the ids, or the message of the error the encoding threw (a TokenizerError). */
export type OffloadReply = { id: number; ids: Uint32Array } | { id: number; error: string };

interface Pending {
  resolve(ids: number[] | null): void;
  reject(e: Error): void;
}

/** The worker thread of one tokenizer folder. */
export class TokenizerOffload {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  private broken = false;

  /** `dir`: what loadTokenizer was given (a model folder or a GGUF file). */
  constructor(private readonly dir: string) {}

  /** Encodes `segments` on the worker: the same ids (or errors) as `Tokenizer.encodeSegments`; null when the worker is unavailable. */
  encode(segments: readonly TextSegment[], opts: OffloadOptions): Promise<number[] | null> {
    if (this.closed || this.broken) return Promise.resolve(null);
    const id = this.nextId++;
    const worker = this.worker ?? this.start();
    return new Promise<number[] | null>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, segments, opts } satisfies OffloadRequest);
    });
  }

  /** Stops the worker; pending and later requests answer null (encoded in-process). */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.release();
    await w?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./tokenizer-worker.ts', import.meta.url).href, dir: this.dir },
    });
    worker.unref();
    worker.on('message', (reply: OffloadReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref(); // an idle worker never keeps the process alive
      if ('ids' in reply) p.resolve(toArray(reply.ids));
      else p.reject(new TokenizerError(reply.error));
    });
    const lost = () => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.broken = true;
      this.release();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    return (this.worker = worker);
  }

  /** Answers every pending request with null. */
  private release(): void {
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
  }
}

/** The ids as an array (a plain loop: Array.from is several times slower on long typed arrays). */
function toArray(ids: Uint32Array): number[] {
  const out = new Array<number>(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
  return out;
}
