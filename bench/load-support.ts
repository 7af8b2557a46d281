/**
 * Pieces of the load benchmarks (bench/load.ts, bench/cold-turn.ts): start `resident serve` as a child process,
 * stream one chat completion recording time to first token and inter-token gaps, percentiles, and the
 * engine-only batched decode rate (what `resident bench --sessions N` measures) on the same model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelSpec } from '../engine/model/hf-model.js';
import { bf16DotAvailable, defaultThreads, loadEngine } from '../engine/native.js';
import { residentBackend } from '../runtime/bench/resident-backend.js';
import { benchTokens } from '../runtime/bench/workload.js';
import { resolveActivations } from '../runtime/host/fast-defaults.js';

export const pct = (xs: number[], p: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((x, y) => x - y);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2);
};

export interface Server {
  url: string;
  child: ChildProcess;
  dataDir: string;
  /** The model folder served (the demo model's when none was given). */
  modelDir: string;
  log: () => string;
  stop(): Promise<void>;
}

/** Starts `resident serve` on a free port with `args`; resolves once it listens. */
export async function startServer(args: string[], dataDir = mkdtempSync(join(tmpdir(), 'resident-load-'))): Promise<Server> {
  const bin = fileURLToPath(new URL('../bin/resident.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data', dataDir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /at (http:\/\/[^\s/]+)\/v1/.exec(log);
      if (m && /journal durability/.test(log)) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  const modelDir = modelDirOf(args, dataDir, log);
  return {
    url, child, dataDir, modelDir, log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function modelDirOf(args: string[], dataDir: string, log: string): string {
  const i = args.indexOf('--model');
  if (i >= 0) return args[i + 1]!;
  const name = /serving (\S+) /.exec(log)![1]!;
  return join(dataDir, 'models', name);
}

/** What one streamed turn measured. */
export interface TurnStats {
  ttft: number;
  /** Gaps between consecutive content chunks (ms), with the time each gap ended (performance.now()). */
  gaps: { ms: number; at: number }[];
  completionTokens: number;
  promptTokens: number;
  prefilled: number;
  content: string;
  end: number;
  /** Request sent → stream ended (ms). */
  total: number;
}

/** Streams one chat completion; throws on an HTTP or stream error. Aborted through `signal`: what was measured until then. */
export async function streamTurn(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<TurnStats> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
  const st: TurnStats = { ttft: -1, gaps: [], completionTokens: 0, promptTokens: 0, prefilled: 0, content: '', end: 0, total: 0 };
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let last = -1;
  let done = false;
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (signal?.aborted) return { ...st, end: performance.now(), total: performance.now() - t0 };
      throw e;
    }
    const { done: eof, value } = chunk;
    if (eof) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (raw.startsWith(':')) continue; // an SSE comment (llama-server's keep-alive while it prefills)
      if (raw.startsWith('error: ')) throw new Error(`stream error: ${raw.slice(7, 300)}`);
      const ev = raw.replace(/^data: /, '');
      if (ev === '[DONE]') {
        done = true;
        continue;
      }
      const j = JSON.parse(ev);
      if (j.error) throw new Error(`stream error: ${j.error.message}`);
      const d = j.choices?.[0]?.delta;
      if (d && (d.content || d.reasoning_content || d.tool_calls)) {
        const now = performance.now();
        if (st.ttft < 0) st.ttft = now - t0;
        else st.gaps.push({ ms: now - last, at: now });
        last = now;
        st.content += d.content ?? '';
      }
      if (j.usage) {
        st.completionTokens = j.usage.completion_tokens;
        st.promptTokens = j.usage.prompt_tokens;
        st.prefilled = j.usage.prefilled_tokens ?? 0;
      }
    }
  }
  if (!done) throw new Error('stream ended without [DONE]');
  st.end = performance.now();
  st.total = st.end - t0;
  return st;
}

/**
 * Engine-only decode rate of `n` sequences decoding together after a `prompt`-token prefill (tok/s in total),
 * the `resident bench --sessions N` figure: same model, threads and activation mode the server picks. With
 * `prefillOf`, also the engine's time to prefill that many tokens on a fresh slot alone (ms, median of 3).
 */
export async function engineOnlyRate(modelDir: string, n: number, o: { prompt: number; decode: number; threads?: number; prefillOf?: number }): Promise<{ rate: number; prefillMs?: number }> {
  const spec = await loadModelSpec(modelDir);
  const activations = resolveActivations('auto', spec.dtype, 'native', bf16DotAvailable()).mode;
  const engine = await loadEngine(spec, { threads: o.threads ?? defaultThreads(), maxBatchTokens: 512, activations });
  try {
    const group = await residentBackend(engine).openMany(n, o.prompt + o.decode + 16);
    await group.prefill(benchTokens(o.prompt, 4));
    const t0 = performance.now();
    await group.decode(o.decode);
    const secs = (performance.now() - t0) / 1000;
    await group.close();
    let prefillMs: number | undefined;
    if (o.prefillOf) {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const seq = await residentBackend(engine).open(o.prefillOf + 8);
        const p0 = performance.now();
        await seq.prefill(benchTokens(o.prefillOf, 5 + i));
        times.push(performance.now() - p0);
        await seq.close();
      }
      prefillMs = +times.sort((x, y) => x - y)[1]!.toFixed(1);
    }
    return { rate: (n * o.decode) / secs, prefillMs };
  } finally {
    engine.dispose();
  }
}
