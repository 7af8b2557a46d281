// Entry of a worker thread that runs one of our TypeScript modules: registers tsx's loader in this
// thread (loader hooks are per thread), then imports workerData.entry (a file URL).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
