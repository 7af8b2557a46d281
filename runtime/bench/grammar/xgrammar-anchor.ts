/**
 * Side-by-side anchor for the grammar benchmark: `@mlc-ai/web-xgrammar` (wasm) run on the same
 * MaskBench files and tokenization. The package is a UMD bundle that needs `require` and
 * `__filename` in scope under Node ESM; it registers itself as `globalThis.xgrammar`.
 * Only used by `resident bench-grammar` (devDependency).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { instanceTexts, percentile, type BenchFigures, type MaskBenchFile } from './maskbench.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function loadXgrammar(): Promise<any> {
  const g = globalThis as any;
  if (g.xgrammar?.GrammarCompiler) return g.xgrammar;
  // the bundle calls require() lazily (wasm binding init), so the shim stays installed
  g.require ??= createRequire(import.meta.url);
  g.__filename ??= join(process.cwd(), 'xgrammar-shim.js');
  await import('@mlc-ai/web-xgrammar');
  if (!g.xgrammar?.GrammarCompiler) throw new Error('@mlc-ai/web-xgrammar did not load');
  return g.xgrammar;
}

/** Runs xgrammar over MaskBench files; same figures as ours. `encode` tokenizes instance text. */
export async function runXgrammarAnchor(
  paths: string[],
  tokenizerDir: string,
  vocabSize: number,
  encode: (text: string) => number[],
): Promise<BenchFigures> {
  // the wasm module prints its warnings with console.log: keep stdout for our figures
  const log = console.log;
  console.log = (...args: unknown[]) => process.stderr.write(args.map(String).join(' ') + '\n');
  try {
    return await run(paths, tokenizerDir, vocabSize, encode);
  } finally {
    console.log = log;
  }
}

async function run(paths: string[], tokenizerDir: string, vocabSize: number, encode: (text: string) => number[]): Promise<BenchFigures> {
  const xg = await loadXgrammar();
  const tj = JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer.json'), 'utf8'));
  const ids = [...Object.values(tj.model.vocab as Record<string, number>), ...tj.added_tokens.map((t: { id: number }) => t.id)];
  const n = ids.reduce((a, b) => Math.max(a, b), 0) + 1;
  const encoded: string[] = new Array(n).fill('');
  for (const [s, id] of Object.entries(tj.model.vocab as Record<string, number>)) encoded[id] = s;
  for (const t of tj.added_tokens as { id: number; content: string }[]) encoded[t.id] = t.content;
  const stop = tj.added_tokens.find((t: { content: string }) => t.content === '<|im_end|>')?.id;
  const info = await xg.TokenizerInfo.createTokenizerInfo(encoded, 'byte_level', false, vocabSize, stop === undefined ? undefined : [stop]);
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, false);
  const fig: BenchFigures = {
    files: 0, compiled: 0, refused: 0, valid: { accepted: 0, rejected: 0 }, invalid: { accepted: 0, rejected: 0 },
    compileMs: { p50: 0, p99: 0 }, maskUs: { p50: 0, p99: 0, max: 0 },
  };
  const compileTimes: number[] = [];
  const maskTimes: number[] = [];
  for (const path of paths) {
    const raw = readFileSync(path, 'utf8');
    const file = JSON.parse(raw) as MaskBenchFile;
    fig.files++;
    let cg;
    const t0 = performance.now();
    try {
      cg = await compiler.compileJSONSchema(JSON.stringify(file.schema), true, undefined, undefined, false, 2);
    } catch {
      fig.refused++;
      continue;
    }
    compileTimes.push(performance.now() - t0);
    fig.compiled++;
    for (const t of instanceTexts(raw, file)) {
      const ids = encode(t.text);
      const m = await xg.GrammarMatcher.createGrammarMatcher(cg);
      let ok = true;
      for (const id of ids) {
        const a = performance.now();
        const mask: Int32Array = await m.getNextTokenBitmask();
        maskTimes.push((performance.now() - a) * 1000);
        if (((mask[id >>> 5] >>> (id & 31)) & 1) === 0 || !m.acceptToken(id)) {
          ok = false;
          break;
        }
      }
      // complete = the stop token is allowed now
      let complete = false;
      if (ok && stop !== undefined) {
        const mask: Int32Array = await m.getNextTokenBitmask();
        complete = ((mask[stop >>> 5] >>> (stop & 31)) & 1) === 1;
      }
      m.dispose();
      const accepted = ok && complete;
      if (t.valid) accepted ? fig.valid.accepted++ : fig.valid.rejected++;
      else accepted ? fig.invalid.accepted++ : fig.invalid.rejected++;
    }
    cg.dispose();
  }
  fig.compileMs = { p50: percentile(compileTimes, 50), p99: percentile(compileTimes, 99) };
  fig.maskUs = { p50: percentile(maskTimes, 50), p99: percentile(maskTimes, 99), max: maskTimes.reduce((a, b) => Math.max(a, b), 0) };
  return fig;
}
