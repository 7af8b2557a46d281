/**
 * The tokenizer's worker thread (started by tokenizer-offload.ts): loads the model folder's tokenizer once, then
 * encodes each request to the end (no slicing: this thread serves nothing else) and answers with its ids, or with the
 * error it threw. Its heap, and the garbage of megabyte texts, stay out of the event loop's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from './load-tokenizer.js';
import type { OffloadReply, OffloadRequest } from './tokenizer-offload.js';

const port = parentPort!;
const loading = loadTokenizer((workerData as { dir: string }).dir, { offload: false });
loading.catch(() => process.exit(1)); // this thread only: the caller then encodes in-process

port.on('message', async (req: OffloadRequest) => {
  let ids: Uint32Array<ArrayBuffer>;
  try {
    ids = Uint32Array.from((await loading).encodeSegments(req.segments, req.opts));
  } catch (e) {
    port.postMessage({ id: req.id, error: (e as Error).message } satisfies OffloadReply);
    return;
  }
  port.postMessage({ id: req.id, ids } satisfies OffloadReply, [ids.buffer]);
});
