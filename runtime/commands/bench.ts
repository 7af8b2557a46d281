import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import { bf16DotAvailable, defaultThreads, loadEngine, memoryReadRate } from '../../engine/native.js';
import { compareLogProbs, engineLogProbs, type AccuracyFigures } from '../bench/accuracy.js';
import { decodeBytesPerToken, matrixValueBytes } from '../bench/decode-bytes.js';
import { decodeLimitRounds } from '../bench/decode-limit.js';
import { llamaBackend, llamaLogProbs } from '../bench/llama-backend.js';
import { nativeFigures } from '../bench/native-rows.js';
import { residentBackend } from '../bench/resident-backend.js';
import { benchTokens, runWorkload, type BenchBackend, type PhaseFigures, type WorkloadOptions } from '../bench/workload.js';
import { defaultCheckpointBudget } from '../../sessions/state-checkpoints.js';
import { UsageError, type Command } from '../command.js';
import { resolveActivations } from '../host/fast-defaults.js';

const USAGE = `resident bench --model DIR|FILE.gguf [--gguf FILE] [options]

Measures our engine and, with --gguf, llama.cpp (node-llama-cpp, same weights, same threads) side by side:
prefill of P tokens and greedy decode of D tokens after it, at depth 0 and after a DEPTH-token context.
llama.cpp runs with flash attention on and off; each row reports its better figure.

Options:
  --model PATH       Hugging Face model folder, or a GGUF model (FILE.gguf, a folder holding one, split
                     NAME-00001-of-000NN.gguf) (required)
  --gguf FILE        the same weights as GGUF, for the llama.cpp anchor (resident make-model --gguf)
  --threads N        threads for both engines (default: ${defaultThreads()})
  --prefill N        prefill tokens (default 512)
  --decode N         decode tokens (default 128)
  --depth N          context depth for the second half (default 4096; 0 skips it)
  --long-depth N     also decode at this depth (e.g. 32768; default 0 = skip)
  --sessions N       also decode N sessions at once, batched (default 8; 1 skips)
  --agent-turn N     also time an agent's turn after an N-token context: append 200 tokens (a tool result),
                     generate 50 (e.g. 8192; default 0 = skip)
  --repetitive on|off decode after a repetitive context, plain and with n-gram speculation (default on)
  --runs N           runs per backend; figures are medians (default 1)
  --fa on|off|both   llama.cpp flash attention (default both)
  --weights MODE     our matmul weights: native (default) or int8 (quantized at load; pair it with a Q8_0
                     --gguf from 'resident gguf --type q8_0'); int8 adds its KL divergence from native
  --activations MODE auto (default), f32 or bf16: with BF16 weights, matmul inputs rounded to bf16 (as llama.cpp's
                     BF16 path does; vdpbf16ps where the CPU has AVX512_BF16); auto = bf16 exactly where the
                     weights are BF16 and the CPU has AVX512_BF16 (as resident serve); bf16 adds its KL divergence from f32
  --gguf-reference F with --weights int8: the unquantized GGUF, for llama.cpp's own Q8_0 accuracy cost
  --json             print {machine, rows: [{name, unit, ours, llamacpp, ratio, native, ratioNative, oursRange}]}:
                     native = llama-bench built for this CPU (npm run build:anchor; flash attention on/off,
                     best) on the same GGUF, reported as missing when not built; oursRange = min–max over --runs
`;

type Labels = { p: number; d: number; depth: number; long: number; s: number };
const ROWS: { key: keyof PhaseFigures; name: (o: Labels) => string }[] = [
  { key: 'prefill', name: (o) => `prefill ${o.p}` },
  { key: 'decode', name: (o) => `decode ${o.d}` },
  { key: 'coldPrefillDepth', name: (o) => `cold prefill ${o.depth}` },
  { key: 'prefillAtDepth', name: (o) => `prefill ${o.p} at depth ${o.depth}` },
  { key: 'decodeAtDepth', name: (o) => `decode ${o.d} at depth ${o.depth}` },
  { key: 'decodeAtLongDepth', name: (o) => `decode ${o.d} at depth ${o.long}` },
  { key: 'decodeSessions', name: (o) => `decode ${o.d} × ${o.s} sessions (total)` },
  { key: 'decodeRepetitive', name: (o) => `decode ${o.d}, repetitive context` },
];

function intFlag(v: string | undefined, name: string, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1]! : NaN;
}

/** Medians over runs; `range` holds each phase's min and max. */
async function measure(b: BenchBackend, runs: number, o: WorkloadOptions): Promise<PhaseFigures & { range: Record<string, [number, number]> }> {
  const all: PhaseFigures[] = [];
  for (let i = 0; i < runs; i++) all.push(await runWorkload(b, o));
  const out = { range: {} } as PhaseFigures & { range: Record<string, [number, number]> };
  for (const k of Object.keys(all[0]!) as (keyof PhaseFigures)[]) {
    const xs = all.map((f) => f[k]);
    out[k] = median(xs);
    out.range[k] = [Math.min(...xs), Math.max(...xs)];
  }
  return out;
}

export const command: Command = {
  name: 'bench',
  summary: 'benchmark the engine against llama.cpp on the same weights',
  usage: USAGE,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, gguf: { type: 'string' }, threads: { type: 'string' }, prefill: { type: 'string' },
        decode: { type: 'string' }, depth: { type: 'string' }, runs: { type: 'string' }, 'long-depth': { type: 'string' }, sessions: { type: 'string' }, 'agent-turn': { type: 'string' }, repetitive: { type: 'string' }, fa: { type: 'string' }, json: { type: 'boolean' },
        weights: { type: 'string' }, activations: { type: 'string' }, 'gguf-reference': { type: 'string' },
      },
      strict: true,
    });
    if (!values.model) throw new UsageError('--model DIR is required');
    const threads = intFlag(values.threads, 'threads', defaultThreads(), 1);
    const o = {
      prefill: intFlag(values.prefill, 'prefill', 512, 1),
      decode: intFlag(values.decode, 'decode', 128, 1),
      depth: intFlag(values.depth, 'depth', 4096),
      longDepth: intFlag(values['long-depth'], 'long-depth', 0),
      sessions: intFlag(values.sessions, 'sessions', 8, 1),
      agentDepth: intFlag(values['agent-turn'], 'agent-turn', 0),
      agentAppend: 200,
      agentGenerate: 50,
      repetitive: values.repetitive !== 'off',
    };
    if (values.repetitive !== undefined && !['on', 'off'].includes(values.repetitive)) throw new UsageError(`--repetitive must be on or off, got '${values.repetitive}'`);
    const runs = intFlag(values.runs, 'runs', 1, 1);
    const fa = values.fa ?? 'both';
    if (!['on', 'off', 'both'].includes(fa)) throw new UsageError(`--fa must be on, off or both, got '${fa}'`);
    const weights = values.weights ?? 'native';
    if (weights !== 'native' && weights !== 'int8') throw new UsageError(`--weights must be native or int8, got '${weights}'`);
    const requested = values.activations ?? (process.env.RESIDENT_ACTIVATIONS || 'auto');
    if (requested !== 'f32' && requested !== 'bf16' && requested !== 'auto') throw new UsageError(`--activations must be auto, f32 or bf16, got '${requested}'`);
    if (values['gguf-reference'] && (weights !== 'int8' || !values.gguf)) throw new UsageError('--gguf-reference goes with --weights int8 and a Q8_0 --gguf');
    const log = (s: string) => process.stderr.write(s + '\n');

    const spec = await loadModelSpecFrom(values.model);
    const { mode: activations, why } = resolveActivations(requested, spec.dtype, weights, requested === 'auto' && bf16DotAvailable(), spec.matrixTypes?.join('+'));
    log(`activations: ${why}`);
    const readRate = await memoryReadRate(1024, threads); // before any model is loaded: the machine's limit
    const engine = await loadEngine(spec, { threads, maxBatchTokens: Math.max(512, o.prefill), weights, activations });
    const weightsLabel = weights === 'int8' ? `int8 (from ${spec.dtype})` : spec.format === 'gguf' ? `GGUF ${spec.matrixTypes!.join('+')}` : spec.dtype;
    const setup = `${weightsLabel} weights${engine.packedWeights ? ' (bf16 panels packed at load)' : ''}${engine.quantPanels ? ' (prefill through block-quant panels)' : ''} (${engine.weightPages} pages), ${engine.activationMode} activations, kernels ${engine.kernels}`;
    log(`resident: ${spec.config.nLayers} layers, ${setup}, ${threads} threads`);
    const ours = await measure(residentBackend(engine), runs, o);
    const valueBytes = weights === 'int8' ? 36 / 32 : matrixValueBytes(spec);
    // the read rate beside each decode round (the machine's rate moves within a minute): the honest share of the limit
    const limit = await decodeLimitRounds(engine, spec, { segments: 6, tokens: 16, prompt: o.prefill, probeMib: 512, threads, valueBytes });
    const probeSlot = engine.createSlot(1);
    const kvBytesPerPosition = probeSlot.bytesPerToken; // the KV layout the decode rows read
    const stateBytes = probeSlot.stateBytes; // one recurrent-state checkpoint (hybrids; 0 otherwise)
    probeSlot.dispose();
    let accuracy: { ours: AccuracyFigures; llamacpp?: AccuracyFigures } | undefined;
    const accuracyTokens = benchTokens(128, 31);
    const lossy = weights === 'int8' ? 'int8' : engine.activationMode === 'bf16' ? 'bf16 activations' : undefined;
    if (lossy) {
      const native = await loadEngine(spec, { threads, maxBatchTokens: accuracyTokens.length, activations: 'f32' });
      accuracy = { ours: compareLogProbs(await engineLogProbs(native, accuracyTokens), await engineLogProbs(engine, accuracyTokens)) };
      native.dispose();
    }
    engine.dispose();
    if (accuracy && values.gguf && values['gguf-reference']) {
      const V = spec.config.vocabSize;
      const ref = await llamaLogProbs(values['gguf-reference'], accuracyTokens, V, threads);
      accuracy.llamacpp = compareLogProbs(ref, await llamaLogProbs(values.gguf, accuracyTokens, V, threads));
    }

    const anchors: PhaseFigures[] = [];
    if (values.gguf) {
      for (const flash of fa === 'both' ? [true, false] : [fa === 'on']) {
        const b = await llamaBackend(values.gguf, { threads, flashAttention: flash, batchSize: Math.max(512, o.prefill) });
        log(`measuring ${b.name}…`);
        anchors.push(await measure(b, runs, o));
        await b.close();
      }
    }
    const label = { p: o.prefill, d: o.decode, depth: o.depth, long: o.longDepth, s: o.sessions };
    // llama.cpp built for this CPU (npm run build:anchor), same GGUF: reported when missing, never an error
    const native = await nativeFigures(values.gguf, { ...o, threads, runs, fa: fa as 'on' | 'off' | 'both' });
    if ('missing' in native) log(`native anchor: ${native.missing}`);
    const nat = 'figures' in native ? native.figures : {};
    const rows: { name: string; unit: string; ours: number; llamacpp: number | null; ratio: number | null; oursRange?: [number, number]; native?: number | null; ratioNative?: number | null }[] = ROWS.filter((r) => !Number.isNaN(ours[r.key])).map((r) => {
      const best = anchors.length ? Math.max(...anchors.map((a) => a[r.key])) : null;
      const v = ours[r.key];
      const n = nat[r.key];
      return {
        name: r.name(label), unit: 'tok/s', ours: round(v), llamacpp: best === null ? null : round(best), ratio: best ? round(v / best, 3) : null,
        ...(runs > 1 ? { oursRange: [round(ours.range[r.key]![0]), round(ours.range[r.key]![1])] as [number, number] } : {}),
        native: n === undefined ? null : round(n), ratioNative: n ? round(v / n, 3) : null,
      };
    });
    {
      // memory-bound decode against the machine: bytes per token at the decode phase's mean depth
      const gb = decodeBytesPerToken(spec.config, valueBytes, kvBytesPerPosition, o.prefill + o.decode / 2) / 1e9;
      const best = anchors.length ? Math.max(...anchors.map((a) => a.decode)) : null;
      rows.push({ name: 'machine: memory read rate (probe)', unit: 'GB/s', ours: round(readRate), llamacpp: null, ratio: null });
      rows.push({ name: `decode ${o.decode}: weight + KV bytes per token`, unit: 'GB', ours: round(gb, 4), llamacpp: null, ratio: null });
      rows.push({ name: `decode ${o.decode}: bytes × tok/s`, unit: 'GB/s', ours: round(gb * ours.decode), llamacpp: best === null ? null : round(gb * best), ratio: best ? round(ours.decode / best, 3) : null });
      rows.push({ name: `decode ${o.decode}: limit at the probed rate`, unit: 'tok/s', ours: round(readRate / gb), llamacpp: null, ratio: null });
      const [lo, hi] = limit.shareRange;
      rows.push({ name: `decode: share of the limit, probed beside each of ${limit.rounds.length} rounds (median)`, unit: '%', ours: round(100 * limit.shareMedian, 1), llamacpp: null, ratio: null, oursRange: [round(100 * lo, 1), round(100 * hi, 1)] });
    }
    if (!Number.isNaN(ours.agentTurnSeconds)) {
      // seconds: lower is better, so the ratio is llama.cpp's time over ours
      const best = anchors.length ? Math.min(...anchors.map((a) => a.agentTurnSeconds)) : null;
      const name = `agent turn at depth ${o.agentDepth}: append ${o.agentAppend} + generate ${o.agentGenerate}`;
      rows.push({ name, unit: 's', ours: round(ours.agentTurnSeconds, 3), llamacpp: best === null ? null : round(best, 3), ratio: best ? round(best / ours.agentTurnSeconds, 3) : null });
    }
    if (stateBytes > 0) {
      // what a session keeps besides its KV: one recurrent state per checkpoint (message boundaries, snapshots)
      const budget = defaultCheckpointBudget(stateBytes);
      rows.push({ name: 'session: bytes per state checkpoint', unit: 'MB', ours: round(stateBytes / 1e6, 3), llamacpp: null, ratio: null });
      rows.push({ name: `session: checkpoints kept in the default budget (${round(budget / 2 ** 20, 1)} MiB)`, unit: 'count', ours: Math.floor(budget / stateBytes), llamacpp: null, ratio: null });
      rows.push({ name: 'session: KV bytes per position', unit: 'KB', ours: round(kvBytesPerPosition / 1e3, 3), llamacpp: null, ratio: null });
    }
    if (!Number.isNaN(ours.decodeSpeculative)) {
      // llama.cpp has no model-free speculation here: compare with its plain decode of the same context
      const best = anchors.length ? Math.max(...anchors.map((a) => a.decodeRepetitive)) : null;
      rows.push({ name: `decode ${o.decode}, repetitive context, n-gram speculation`, unit: 'tok/s', ours: round(ours.decodeSpeculative), llamacpp: best === null ? null : round(best), ratio: best ? round(ours.decodeSpeculative / best, 3) : null });
      rows.push({ name: 'speculation: accepted drafts per forward', unit: 'tokens', ours: round(ours.acceptedPerStep), llamacpp: null, ratio: null });
    }
    if (o.sessions > 1) {
      // batching gain: S sessions at once vs one session alone, for each engine
      const gain = (f: PhaseFigures) => f.decodeSessions / f.decode;
      const best = anchors.length ? Math.max(...anchors.map(gain)) : null;
      rows.push({ name: `${o.sessions}-session speed-up vs 1`, unit: '×', ours: round(gain(ours)), llamacpp: best === null ? null : round(best), ratio: best ? round(gain(ours) / best, 3) : null });
    }
    if (accuracy) {
      // ours: int8 engine vs our native engine; llama.cpp: its Q8_0 GGUF vs its unquantized one (lower KL is better)
      const { ours: a, llamacpp: b } = accuracy;
      rows.push({ name: `${lossy} vs ${spec.dtype}: KL divergence (${a.positions} positions)`, unit: 'nats/token', ours: round(a.kl, 5), llamacpp: b ? round(b.kl, 5) : null, ratio: b ? round(a.kl / b.kl, 3) : null });
      rows.push({ name: `${lossy} vs ${spec.dtype}: top-1 agreement`, unit: 'fraction', ours: round(a.top1, 4), llamacpp: b ? round(b.top1, 4) : null, ratio: b ? round(a.top1 / b.top1, 3) : null });
    }
    const machine = { cpu: cpus()[0]?.model ?? 'unknown', logicalCpus: cpus().length, threads, kernels: engine.kernels, weights: weightsLabel, packedWeights: engine.packedWeights, quantPanels: engine.quantPanels, weightPages: engine.weightPages, activations: engine.activationMode, node: process.version };
    if (values.json) {
      process.stdout.write(JSON.stringify({ machine, rows }) + '\n');
    } else {
      process.stdout.write(`${machine.cpu}, ${threads} threads, ${setup}\n`);
      process.stdout.write(`${'row'.padEnd(30)} ${'ours'.padStart(9)} ${'llama.cpp'.padStart(10)} ${'ratio'.padStart(7)} ${'native'.padStart(9)} ${'ratioN'.padStart(7)}\n`);
      for (const r of rows) process.stdout.write(`${r.name.padEnd(30)} ${fmt(r.ours).padStart(9)} ${fmt(r.llamacpp).padStart(10)} ${fmt(r.ratio).padStart(7)} ${fmt(r.native ?? null).padStart(9)} ${fmt(r.ratioNative ?? null).padStart(7)}\n`);
    }
    return 0;
  },
};

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number | null): string {
  return x === null || Number.isNaN(x) ? '—' : String(x);
}
