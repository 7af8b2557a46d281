/**
 * Tokenizer speed on long texts of every character class: our sliced byte-level BPE (CPU µs per char,
 * the longest slice between two turns of the event loop) beside the library's BPE
 * (`@huggingface/tokenizers`, run whole on the event loop) on the smaller sizes.
 *   npx tsx bench/tokenize.ts [--tokenizer DIR (default ../shared/qwen3-tokenizer)] [--sizes 10000,100000,1000000,4000000] [--library-max 100000]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setImmediate as turn } from 'node:timers/promises';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { loadTokenizer } from '../engine/tokens/load-tokenizer.js';
import { Slicer, SLICE_MS, type SlicedWork } from '../engine/tokens/time-slice.js';
import { sharedDir } from '../test/support/shared.js';

const { values: a } = parseArgs({ options: { tokenizer: { type: 'string' }, sizes: { type: 'string', default: '10000,100000,1000000,4000000' }, 'library-max': { type: 'string', default: '100000' } } });
const dir = a.tokenizer ?? join(sharedDir() ?? '../shared', 'qwen3-tokenizer');
const tok = await loadTokenizer(dir);
const hf = new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
tok.encode('warm up');
const rnd = (n: number, pick: (r: number) => string) => {
  let x = 12345;
  let s = '';
  for (let i = 0; i < n; i++) s += pick((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8);
  return s;
};
const classes: Record<string, (n: number) => string> = {
  spaces: (n) => ' '.repeat(n), "'a'": (n) => 'a'.repeat(n), newlines: (n) => '\n'.repeat(n), "'0'": (n) => '0'.repeat(n),
  "'é'": (n) => 'é'.repeat(n), "'中'": (n) => '中'.repeat(n), letters: (n) => rnd(n, (r) => String.fromCharCode(97 + (r % 26))),
  'random BMP': (n) => rnd(n, (r) => String.fromCharCode(32 + (r % 0x2fe0))),
  JSON: (n) => JSON.stringify(Array.from({ length: n / 20 }, (_, i) => ({ k: i, v: 'x'.repeat(i % 7) }))).slice(0, n),
};
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
console.log(`tokenizer ${dir}; slices of ${SLICE_MS} ms; CPU times (this process, GC threads included)`);
for (const [name, make] of Object.entries(classes)) {
  for (const n of a.sizes.split(',').map(Number)) {
    const text = make(n);
    const slicer = new Slicer();
    const work = (tok as unknown as { encodeWork(s: unknown, o: unknown, sl: Slicer): SlicedWork<number[]> }).encodeWork([{ text, trusted: false }], {}, slicer);
    let total = 0;
    let longest = 0;
    let slices = 0;
    let r: IteratorResult<void, number[]>;
    do {
      slicer.deadline = performance.now() + SLICE_MS;
      const c0 = process.cpuUsage();
      r = work.next();
      const ms = cpuMs(process.cpuUsage(c0));
      total += ms;
      longest = Math.max(longest, ms);
      slices++;
      if (!r.done) await turn();
    } while (!r.done);
    let lib = '';
    if (n <= Number(a['library-max'])) {
      const c0 = process.cpuUsage();
      const ids = hf.encode(text, { add_special_tokens: false }).ids;
      const ms = cpuMs(process.cpuUsage(c0));
      lib = `  library ${ms.toFixed(0)} ms (${((ms * 1000) / n).toFixed(2)} µs/char)${JSON.stringify(ids) === JSON.stringify(r.value) ? '' : ' DIFFERENT IDS'}`;
    }
    console.log(`${name.padEnd(11)} ${String(n).padStart(8)} chars → ${String(r.value.length).padStart(8)} tokens: ours ${total.toFixed(0)} ms (${((total * 1000) / n).toFixed(2)} µs/char), ${slices} slices, longest ${longest.toFixed(1)} ms${lib}`);
  }
}
