/**
 * The llama-server side of the side-by-side benchmarks (bench/load.ts, bench/cold-turn.ts `--llama-server`):
 * starts the natively built `llama-server` (`npm run build:anchor`, runtime/bench/native-anchor.ts) on a
 * GGUF of the same weights, with `--parallel` slots, prompt caching on (its default; every request also
 * sends `cache_prompt: true`) and the flash-attention setting asked for. Benchmarks only. Each slot gets its
 * own KV (`-c` = slots × per-slot context: its default with an explicit `--parallel`). Its thread pool spins at
 * barriers: on a machine shared with other CPU-bound work its figures swing far more than ours.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { anchorStatus } from '../runtime/bench/native-anchor.js';

export interface LlamaServer {
  url: string;
  child: ChildProcess;
  /** The model id it answers to. */
  model: string;
  args: string[];
  log: () => string;
  stop(): Promise<void>;
}

export interface LlamaServerOptions {
  gguf: string;
  /** Server slots (`--parallel`). */
  parallel: number;
  /** Tokens of context per slot (`-c` is slots × this). */
  context: number;
  threads: number;
  fa: 'on' | 'off';
  /** More arguments, e.g. `--cache-ram 0`. */
  extra?: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts llama-server; resolves once /health answers 200 (the model loaded). Throws with the reason when the anchor is not built. */
export async function startLlamaServer(o: LlamaServerOptions): Promise<LlamaServer> {
  const st = anchorStatus();
  if (!st.built) throw new Error(st.reason);
  const port = await freePort();
  const args = [
    '-m', o.gguf, '--host', '127.0.0.1', '--port', String(port), '--parallel', String(o.parallel), '-c', String(o.parallel * o.context), '--no-kv-unified',
    '-t', String(o.threads), '-tb', String(o.threads), '-fa', o.fa, '--cache-prompt', '--jinja', '--no-webui', '--alias', 'anchor', ...(o.extra ?? []),
  ];
  const child = spawn(st.llamaServer, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`llama-server exited with ${code}:\n${log.slice(-3000)}`))));
  const url = `http://127.0.0.1:${port}`;
  const ready = (async () => {
    for (;;) {
      try {
        if ((await fetch(`${url}/health`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => {});
  return {
    url, child, model: 'anchor', args, log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
