/**
 * Decode against the machine's memory read rate, measured side by side (runtime/bench/decode-limit.ts): each of
 * --segments rounds probes the read rate and then decodes --tokens tokens of one session; prints each round and the
 * median share of the limit with its range; --json for one line. `resident bench` reports the same median.
 *   npx tsx bench/decode-limit.ts --model FILE|DIR [--segments 8] [--tokens 16] [--prompt 512] [--threads N]
 */
import { parseArgs } from 'node:util';
import { loadModelSpecFrom } from '../engine/model/load-model.js';
import { defaultThreads, loadEngine } from '../engine/native.js';
import { decodeLimitRounds } from '../runtime/bench/decode-limit.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, segments: { type: 'string', default: '8' }, tokens: { type: 'string', default: '16' },
    prompt: { type: 'string', default: '512' }, threads: { type: 'string' }, 'probe-mib': { type: 'string', default: '512' },
    json: { type: 'boolean', default: false },
  },
});
if (!a.model) throw new Error('--model FILE|DIR is required');
const segments = Number(a.segments), tokens = Number(a.tokens), prompt = Number(a.prompt), probeMib = Number(a['probe-mib']);
const threads = a.threads ? Number(a.threads) : defaultThreads();
for (const [k, v] of Object.entries({ segments, tokens, prompt, 'probe-mib': probeMib, threads })) if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer`);

const spec = await loadModelSpecFrom(a.model);
const engine = await loadEngine(spec, { threads, maxBatchTokens: 512 });
try {
  const out = await decodeLimitRounds(engine, spec, { segments, tokens, prompt, probeMib, threads }, (r, s) => {
    if (!a.json) console.log(`round ${s + 1}: probe ${r.probeGBs.toFixed(1)} GB/s, ${r.gbPerToken.toFixed(4)} GB/token, decode ${r.tokS.toFixed(1)} tok/s = ${(100 * r.share).toFixed(0)} % of the limit`);
  });
  if (a.json) console.log(JSON.stringify({ bench: 'decode-limit', model: a.model, threads, weightPages: engine.weightPages, tokensPerRound: tokens, ...out }));
  else console.log(`median ${(100 * out.shareMedian).toFixed(0)} % of the limit (range ${(100 * out.shareRange[0]).toFixed(0)}–${(100 * out.shareRange[1]).toFixed(0)} %)`);
} finally {
  engine.dispose();
}
