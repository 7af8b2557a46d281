/**
 * `npm run build:anchor`: builds llama.cpp's `llama-bench` and `llama-server` for this CPU
 * (`-DGGML_NATIVE=ON`, Release, CPU only) from the llama.cpp source that node-llama-cpp ships
 * (`node_modules/node-llama-cpp/llama/gitRelease.bundle`), into `.cache/anchor/<tag>/`.
 * Benchmarks only — never run in CI. Idempotent: a finished build is reused.
 *
 *   npm run build:anchor [-- --jobs 2] [--force]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { anchorPaths, anchorSource } from '../runtime/bench/native-anchor.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '2' }, force: { type: 'boolean' } } });
const src = anchorSource();
const p = anchorPaths();
const run = (cmd: string, args: string[], cwd?: string) => {
  process.stderr.write(`$ ${cmd} ${args.join(' ')}\n`);
  execFileSync(cmd, args, { cwd, stdio: 'inherit' });
};

if (values.force) rmSync(p.root, { recursive: true, force: true });
if (existsSync(p.llamaBench) && existsSync(p.llamaServer)) {
  process.stderr.write(`anchor already built: ${p.root}\n`);
  process.exit(0);
}
mkdirSync(p.root, { recursive: true });
if (!existsSync(p.src)) run('git', ['clone', '-q', src.bundle, p.src]);
run('cmake', [
  '-S', p.src, '-B', p.build, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DBUILD_SHARED_LIBS=OFF',
  '-DLLAMA_CURL=OFF', '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_UI=OFF', '-DLLAMA_USE_PREBUILT_UI=OFF', '-DGGML_CUDA=OFF', '-DGGML_VULKAN=OFF', '-DGGML_METAL=OFF',
]);
run('cmake', ['--build', p.build, '--target', 'llama-bench', 'llama-server', '-j', values.jobs!]);
for (const f of [p.llamaBench, p.llamaServer]) if (!existsSync(f)) throw new Error(`build finished without ${f}`);
process.stderr.write(`anchor built: ${p.llamaBench}\n              ${p.llamaServer}\n`);
