/**
 * The native llama.cpp anchor: `llama-bench` / `llama-server` built for this CPU by `npm run build:anchor`
 * (bench/build-anchor.ts) into `.cache/anchor/llama.cpp-<release>/`. Benchmarks only; a missing build is
 * reported by `anchorStatus`, never an error.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where node-llama-cpp keeps its llama.cpp source (a git bundle) and which release it is. */
export function anchorSource(): { bundle: string; release: string } {
  const dir = join(ROOT, 'node_modules/node-llama-cpp/llama');
  const bundle = join(dir, 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`no llama.cpp source bundle at ${bundle} (is node-llama-cpp installed?)`);
  const release = (JSON.parse(readFileSync(join(dir, 'binariesGithubRelease.json'), 'utf8')) as { release: string }).release;
  return { bundle, release };
}

/** The anchor's cache layout: `{root}/src` (clone), `{root}/build` (cmake), the two binaries. */
export function anchorPaths(): { root: string; src: string; build: string; llamaBench: string; llamaServer: string } {
  const root = join(ROOT, '.cache/anchor', `llama.cpp-${anchorSource().release}`);
  const build = join(root, 'build');
  return { root, src: join(root, 'src'), build, llamaBench: join(build, 'bin/llama-bench'), llamaServer: join(build, 'bin/llama-server') };
}

/** Whether the anchor is built; otherwise the reason, to print. */
export function anchorStatus(): { built: true; llamaBench: string; llamaServer: string } | { built: false; reason: string } {
  try {
    const p = anchorPaths();
    if (existsSync(p.llamaBench) && existsSync(p.llamaServer)) return { built: true, llamaBench: p.llamaBench, llamaServer: p.llamaServer };
    return { built: false, reason: `native llama.cpp anchor not built (npm run build:anchor builds it into ${p.root})` };
  } catch (e) {
    return { built: false, reason: (e as Error).message };
  }
}

/** One llama-bench test: prompt (n_prompt > 0) or generation (n_gen > 0) after n_depth tokens. */
export interface NativeBenchTest {
  nPrompt: number;
  nGen: number;
  depth: number;
}

/** llama-bench's result for one test and flash-attention setting: mean tok/s and the samples. */
export interface NativeBenchResult extends NativeBenchTest {
  flashAttention: boolean;
  avgTs: number;
  samplesTs: number[];
}

/**
 * Runs the native llama-bench on `gguf` with `threads` threads, flash attention on and off, `runs`
 * repetitions of each test (its JSON output); F16 KV (its default, as node-llama-cpp's).
 */
export async function runNativeBench(bin: string, gguf: string, tests: NativeBenchTest[], o: { threads: number; runs: number; fa: ('on' | 'off')[] }): Promise<NativeBenchResult[]> {
  const out: NativeBenchResult[] = [];
  for (const t of tests) {
    const args = ['-m', gguf, '-t', String(o.threads), '-r', String(Math.max(1, o.runs)), '-o', 'json', '-p', String(t.nPrompt), '-n', String(t.nGen), '-d', String(t.depth), '-fa', o.fa.join(','), '-b', '2048', '-ub', '512'];
    const { stdout } = await promisify(execFile)(bin, args, { maxBuffer: 64 << 20 });
    const rows = JSON.parse(stdout) as { n_prompt: number; n_gen: number; n_depth: number; flash_attn: boolean | number; avg_ts: number; samples_ts: number[] }[];
    for (const r of rows) out.push({ nPrompt: r.n_prompt, nGen: r.n_gen, depth: r.n_depth, flashAttention: !!r.flash_attn, avgTs: r.avg_ts, samplesTs: r.samples_ts });
  }
  return out;
}
