/**
 * Decode against the machine's memory read rate, measured side by side: on a shared machine the read rate moves
 * within a minute, so a probe taken before a whole decode run compares two different moments. Here each of
 * --segments rounds probes the read rate (best of 2 passes over --probe-mib MiB, the threads decode uses) and then
 * decodes --tokens tokens of one session; per round, tok/s ÷ (probe ÷ bytes per token) is the share of the limit
 * (bytes per token as `resident bench` counts them: weights at the file's bytes per value, plus K/V at the
 * round's depth). Prints each round and the median share with its range; --json for one line.
 *   npx tsx bench/decode-limit.ts --model FILE|DIR [--segments 8] [--tokens 16] [--prompt 512] [--threads N]
 */
import { parseArgs } from 'node:util';
import { loadModelSpecFrom } from '../engine/model/load-model.js';
import { defaultThreads, loadEngine, memoryReadRate } from '../engine/native.js';
import { decodeBytesPerToken, matrixValueBytes } from '../runtime/bench/decode-bytes.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, segments: { type: 'string', default: '8' }, tokens: { type: 'string', default: '16' },
    prompt: { type: 'string', default: '512' }, threads: { type: 'string' }, 'probe-mib': { type: 'string', default: '512' },
    json: { type: 'boolean', default: false },
  },
});
if (!a.model) throw new Error('--model FILE|DIR is required');
const segments = Number(a.segments), tokens = Number(a.tokens), prompt = Number(a.prompt), mib = Number(a['probe-mib']);
const threads = a.threads ? Number(a.threads) : defaultThreads();
for (const [k, v] of Object.entries({ segments, tokens, prompt, mib, threads })) if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer`);

const spec = await loadModelSpecFrom(a.model);
const engine = await loadEngine(spec, { threads, maxBatchTokens: 512 });
const slot = engine.createSlot(prompt + segments * tokens + 8);
const valueBytes = matrixValueBytes(spec);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
try {
  await engine.forward([{ slot, tokens: Array.from({ length: prompt }, (_, i) => (i * 7919) % 5000 + 10), logits: 'last' }]);
  const rounds: { probeGBs: number; tokS: number; share: number }[] = [];
  let depth = prompt, tok = 11;
  for (let s = 0; s < segments; s++) {
    const probeGBs = await memoryReadRate(mib, threads, 2);
    const gb = decodeBytesPerToken(spec.config, valueBytes, slot.bytesPerToken, depth + tokens / 2) / 1e9;
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++, depth++) {
      await engine.forward([{ slot, tokens: [tok], logits: 'last' }]);
      tok = (tok * 7919 + i) % 5000 + 10;
    }
    const tokS = tokens / ((performance.now() - t0) / 1000);
    rounds.push({ probeGBs: +probeGBs.toFixed(1), tokS: +tokS.toFixed(1), share: +((tokS * gb) / probeGBs).toFixed(3) });
    if (!a.json) console.log(`round ${s + 1}: probe ${probeGBs.toFixed(1)} GB/s, ${gb.toFixed(4)} GB/token, decode ${tokS.toFixed(1)} tok/s = ${((100 * tokS * gb) / probeGBs).toFixed(0)} % of the limit`);
  }
  const shares = rounds.map((r) => r.share);
  const out = { bench: 'decode-limit', model: a.model, threads, weightPages: engine.weightPages, tokensPerRound: tokens, rounds, shareMedian: median(shares), shareRange: [Math.min(...shares), Math.max(...shares)] };
  if (a.json) console.log(JSON.stringify(out));
  else console.log(`median ${(100 * out.shareMedian).toFixed(0)} % of the limit (range ${(100 * out.shareRange[0]!).toFixed(0)}–${(100 * out.shareRange[1]!).toFixed(0)} %)`);
} finally {
  slot.dispose();
  engine.dispose();
}
