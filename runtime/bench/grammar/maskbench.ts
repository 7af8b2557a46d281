/**
 * MaskBench-format runner shared by `resident bench-grammar` and the tests. A file is
 * `{description, meta, schema, tests: [{description, valid, data}]}`; each instance is
 * serialized with `JSON.stringify`, tokenized, and fed token by token: an instance is accepted
 * when every token is in the mask and the matcher is complete at the end.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SchemaCompileError } from '../../../engine/grammar/errors.js';
import { parseLossless, stringifyLossless } from './lossless-json.js';
import { GrammarMatcher, schemaGrammar } from '../../../engine/grammar/mask/matcher.js';
import { hasToken, type GrammarVocab } from '../../../engine/grammar/mask/vocab.js';

/** One MaskBench file. */
export interface MaskBenchFile {
  description?: string;
  schema: unknown;
  tests: { description?: string; valid: boolean; data: unknown }[];
}

/** Aggregate figures, the `bench-grammar --json` shape (without `anchor`). */
export interface BenchFigures {
  files: number;
  compiled: number;
  refused: number;
  valid: { accepted: number; rejected: number };
  invalid: { accepted: number; rejected: number };
  compileMs: { p50: number; p99: number };
  maskUs: { p50: number; p99: number; max: number };
}

/** Per-file outcome, for tables and failure reports. */
export interface FileOutcome {
  file: string;
  refused?: string;
  validRejected: number;
  invalidAccepted: number;
  /** Instances whose tokens do not decode back to the JSON text (tokenizer normalization): skipped. */
  skipped: number;
}

export interface RunResult extends BenchFigures {
  outcomes: FileOutcome[];
  /** mask()/accept() disagreements (must be 0). */
  inconsistent: number;
  compileTimes: number[];
  maskTimes: number[];
}

/** Lists `*.json` files of a folder (sorted), or the file itself. */
export function listSchemaFiles(dirOrFile: string): string[] {
  if (statSync(dirOrFile).isFile()) return [dirOrFile];
  return readdirSync(dirOrFile)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dirOrFile, f));
}

/** Loads the Hugging Face tokenizer of a folder, for canonical tokenization of instances. */
export function loadTokenizer(dir: string): (text: string) => number[] {
  const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  let cfg = {};
  try {
    cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  } catch {
    /* optional */
  }
  const tok = new Tokenizer(tj, cfg);
  return (text) => tok.encode(text, { add_special_tokens: false }).ids;
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const enc = new TextEncoder();

/** Runs instances of every file through our matcher. */
export function runMaskBench(paths: string[], vocab: GrammarVocab, encode: (text: string) => number[]): RunResult {
  const r: RunResult = {
    files: 0, compiled: 0, refused: 0, valid: { accepted: 0, rejected: 0 }, invalid: { accepted: 0, rejected: 0 },
    compileMs: { p50: 0, p99: 0 }, maskUs: { p50: 0, p99: 0, max: 0 }, outcomes: [], inconsistent: 0, compileTimes: [], maskTimes: [],
  };
  for (const path of paths) {
    const raw = readFileSync(path, 'utf8');
    const file = JSON.parse(raw) as MaskBenchFile;
    r.files++;
    const out: FileOutcome = { file: path, validRejected: 0, invalidAccepted: 0, skipped: 0 };
    r.outcomes.push(out);
    let grammar;
    const t0 = performance.now();
    try {
      grammar = schemaGrammar(file.schema, vocab);
    } catch (e) {
      if (!(e instanceof SchemaCompileError)) throw new Error(`${path}: ${(e as Error).stack}`);
      r.refused++;
      out.refused = e.message;
      continue;
    }
    r.compileTimes.push(performance.now() - t0);
    r.compiled++;
    for (const text of instanceTexts(raw, file)) {
      const t = { valid: text.valid };
      const ids = encode(text.text);
      if (!sameBytes(vocab, ids, enc.encode(text.text))) {
        out.skipped++;
        continue;
      }
      const m = new GrammarMatcher(grammar);
      let ok = true;
      for (const id of ids) {
        const a = performance.now();
        const mask = m.mask();
        r.maskTimes.push((performance.now() - a) * 1000);
        const bit = hasToken(mask, id);
        const acc = m.accept(id);
        if (bit !== acc) r.inconsistent++;
        if (!acc) {
          ok = false;
          break;
        }
      }
      const accepted = ok && m.isComplete();
      if (t.valid) accepted ? r.valid.accepted++ : (r.valid.rejected++, out.validRejected++);
      else accepted ? (r.invalid.accepted++, out.invalidAccepted++) : r.invalid.rejected++;
    }
  }
  r.compileMs = { p50: percentile(r.compileTimes, 50), p99: percentile(r.compileTimes, 99) };
  r.maskUs = { p50: percentile(r.maskTimes, 50), p99: percentile(r.maskTimes, 99), max: r.maskTimes.reduce((a, b) => Math.max(a, b), 0) };
  return r;
}

/**
 * The instances of a file as compact JSON text, numbers exactly as written in the file
 * (JSON.parse would turn `12345.0` into `12345` and round big integers, changing validity).
 */
export function instanceTexts(raw: string, file: MaskBenchFile): { text: string; valid: boolean }[] {
  let tests: unknown;
  try {
    const m = parseLossless(raw) as Map<string, unknown>;
    tests = m.get('tests');
  } catch {
    tests = undefined;
  }
  if (!Array.isArray(tests)) return (file.tests ?? []).map((t) => ({ text: JSON.stringify(t.data), valid: t.valid }));
  return tests.map((t: Map<string, unknown>) => ({ text: stringifyLossless(t.get('data')), valid: t.get('valid') === true }));
}

/** True when the tokens spell exactly `bytes` (false when tokenizer normalization changed the text). */
export function sameBytes(vocab: GrammarVocab, ids: number[], bytes: Uint8Array): boolean {
  let pos = 0;
  for (const id of ids) {
    const b = vocab.bytes[id];
    if (!b || vocab.special[id]) return false;
    for (let k = 0; k < b.length; k++) if (bytes[pos++] !== b[k]) return false;
  }
  return pos === bytes.length;
}
