import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { listSchemaFiles, loadTokenizer, runMaskBench } from '../bench/grammar/maskbench.js';
import { runXgrammarAnchor } from '../bench/grammar/xgrammar-anchor.js';
import { loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';

const usage = `Usage: resident bench-grammar --schemas DIR --tokenizer DIR [options]

Runs every MaskBench-format file in DIR ({schema, tests:[{valid, data}]}) through the
grammar-constrained decoder: each instance is JSON.stringify'd, tokenized and fed token by
token. Reports compiled/refused schemas, valid/invalid instances accepted/rejected, compile
time and per-token mask time, with @mlc-ai/web-xgrammar on the same files as the anchor.

Options:
  --schemas DIR       folder of *.json files (or one file)            (required)
  --tokenizer DIR     tokenizer folder, e.g. Qwen3's                  (required)
  --vocab-size N      mask width = model vocab size (default 151936 for Qwen, else tokenizer size)
  --limit N           only the first N files
  --every N           only every N-th file (sampling)
  --filter REGEX      only files whose name matches REGEX (applied before --every/--limit)
  --no-anchor         skip the xgrammar anchor
  --json              print the figures as JSON
`;

export const command: Command = {
  name: 'bench-grammar',
  summary: 'Benchmark JSON-Schema constrained decoding on MaskBench-format files',
  usage,
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          schemas: { type: 'string' }, tokenizer: { type: 'string' }, 'vocab-size': { type: 'string' },
          limit: { type: 'string' }, every: { type: 'string' }, filter: { type: 'string' }, 'no-anchor': { type: 'boolean' }, json: { type: 'boolean' },
        },
        strict: true,
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (!values.schemas) throw new UsageError('--schemas DIR is required');
    if (!existsSync(values.schemas)) throw new UsageError(`no such folder: ${values.schemas}`);
    if (!values.tokenizer) throw new UsageError('--tokenizer DIR is required');
    const tokDir = values.tokenizer;
    if (!existsSync(tokDir)) throw new UsageError(`no tokenizer at ${tokDir}`);
    const num = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer`);
      return n;
    };
    const limit = num('limit', values.limit);
    const every = num('every', values.every) ?? 1;
    let filter: RegExp | undefined;
    try {
      filter = values.filter === undefined ? undefined : new RegExp(values.filter);
    } catch (e) {
      throw new UsageError(`--filter: ${(e as Error).message}`);
    }
    let files = listSchemaFiles(values.schemas)
      .filter((f) => !filter || filter.test(basename(f)))
      .filter((_, i) => i % every === 0);
    if (limit !== undefined) files = files.slice(0, limit);
    const encode = loadTokenizer(tokDir);
    const probe = loadGrammarVocab(tokDir);
    const vocabSize = num('vocab-size', values['vocab-size']) ?? (probe.addedTokenId('<|im_end|>') !== undefined && probe.size <= 151936 ? 151936 : probe.size);
    const vocab = loadGrammarVocab(tokDir, vocabSize);
    const r = runMaskBench(files, vocab, encode);
    const { outcomes, compileTimes, maskTimes, inconsistent, ...figures } = r;
    const anchor = values['no-anchor'] ? undefined : await runXgrammarAnchor(files, tokDir, vocabSize, encode);
    const out = { ...figures, anchor };
    if (values.json) {
      process.stdout.write(JSON.stringify(out) + '\n');
    } else {
      const row = (name: string, f: typeof figures) =>
        `${name.padEnd(10)} files ${f.files}  compiled ${f.compiled}  refused ${f.refused}  valid ${f.valid.accepted}/${f.valid.accepted + f.valid.rejected} accepted  ` +
        `invalid accepted ${f.invalid.accepted}  compile p50 ${f.compileMs.p50.toFixed(2)} ms p99 ${f.compileMs.p99.toFixed(1)} ms  ` +
        `mask p50 ${f.maskUs.p50.toFixed(1)} µs p99 ${f.maskUs.p99.toFixed(0)} µs max ${f.maskUs.max.toFixed(0)} µs`;
      process.stdout.write(row('resident', figures) + '\n');
      if (anchor) process.stdout.write(row('xgrammar', anchor) + '\n');
      if (inconsistent) process.stdout.write(`mask/accept disagreements: ${inconsistent}\n`);
      const wrong = outcomes.filter((o) => o.invalidAccepted > 0);
      for (const o of wrong.slice(0, 20)) process.stdout.write(`invalid accepted: ${o.file} (${o.invalidAccepted})\n`);
    }
    void compileTimes;
    void maskTimes;
    return figures.invalid.accepted === 0 && inconsistent === 0 ? 0 : 1;
  },
};
