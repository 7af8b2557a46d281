/**
 * The only door to the native engine binary (build/Release/resident_engine.node).
 * Wraps the addon's Model and Slot objects in the typed `Engine` / `KvSlot` contract of engine-api.ts
 * and turns native status codes into named errors.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ActivationMode, Engine, EngineCounters, EngineOptions, EntryLogits, ExpertLayerStats, ForwardEntry, ForwardOptions, KvDType, KvSlot, WeightPages, WeightMode } from './engine-api.js';
import { DisposedError, EngineArgumentError, EngineError, KvCapacityError, UnsupportedModelError } from './errors.js';
import { isMoeLayer } from './model/families/family.js';
import { familyOf } from './model/families/registry.js';
import type { ModelConfig, ModelSpec, TensorDType, WeightDType } from './model/model-spec.js';

/** GGUF block types the kernels run on directly (ggml's on-disk block layouts; engine/native/common.h). */
export type QuantDType = 'q8_0' | 'q4_0' | 'q4_k' | 'q5_k' | 'q6_k';
/** Native dtype codes (engine/native/common.h `enum class dtype`). */
export const DTYPE_CODE: Record<WeightDType | KvDType | QuantDType, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 4, q4_0: 5, q4_k: 6, q5_k: 7, q6_k: 8 };

import { call, callSync, nativeBinding, type NativeModel, type NativeSlot } from './native-binding.js';

export { nativeBinding } from './native-binding.js';

let nextSlotId = 1;

class Slot implements KvSlot {
  readonly id = nextSlotId++;
  constructor(readonly native: NativeSlot, readonly owner: NativeEngine, readonly kvDtype: KvDType) {}
  get capacity(): number { return this.native.capacity; }
  get length(): number { return this.native.length; }
  get bytesPerToken(): number { return this.native.bytesPerToken; }
  get tokensForwarded(): number { return this.native.tokensForwarded; }
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new EngineArgumentError(`truncate(n): n must be a non-negative integer, got ${n}`);
    callSync(() => this.native.truncate(n));
  }
  copyFrom(src: KvSlot, n: number): Promise<void> {
    if (!(src instanceof Slot) || src.owner !== this.owner) throw new EngineArgumentError('copyFrom: the source is not a slot of this engine');
    if (src.kvDtype !== this.kvDtype) throw new EngineArgumentError(`copyFrom: KV dtypes differ (${src.kvDtype} → ${this.kvDtype})`);
    return call(() => this.native.copyFrom(src.native, n));
  }
  recycle(): void { callSync(() => this.native.recycle()); }
  readKv(start: number, end: number, into?: Buffer): Promise<Buffer> { return call(() => this.native.readKv(start, end, into)); }
  writeKv(start: number, data: Uint8Array): Promise<void> { return call(() => this.native.writeKv(start, data)); }
  get stateBytes(): number { return this.native.stateBytes; }
  get statePosition(): number { return this.native.statePosition; }
  readState(into?: Buffer): Promise<Buffer> { return call(() => this.native.readState(into)); }
  writeState(position: number, data: Uint8Array): Promise<void> {
    if (!Number.isInteger(position) || position < 0) throw new EngineArgumentError(`writeState(position): position must be a non-negative integer, got ${position}`);
    return call(() => this.native.writeState(position, data));
  }
  residentBytes(): number { return this.native.residentBytes(); }
  dispose(): void { this.native.dispose(); }
}

class NativeEngine implements Engine {
  private disposed = false;
  readonly kernels: string;
  readonly threads: number;
  readonly packedWeights: boolean;
  readonly quantPanels: boolean;
  readonly weightPages: WeightPages;
  constructor(
    private readonly model: NativeModel,
    readonly config: ModelConfig,
    readonly weightDtype: WeightDType,
    readonly weightMode: WeightMode,
    readonly activationMode: ActivationMode,
    readonly fingerprint: string,
    readonly maxBatchTokens: number,
  ) {
    const info = model.info();
    this.kernels = info.kernels;
    this.threads = info.threads;
    this.packedWeights = info.packedWeights;
    this.quantPanels = info.quantPanels;
    this.weightPages = info.weightPages;
  }

  private check(): void {
    if (this.disposed) throw new DisposedError('the engine was disposed');
  }

  createSlot(capacity: number, kvDtype?: KvDType): KvSlot {
    this.check();
    const dt = kvDtype ?? defaultKvDtype(this.weightDtype);
    if (!(dt in DTYPE_CODE)) throw new EngineArgumentError(`unknown KV dtype '${dt}' (bf16, f16 or f32)`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new EngineArgumentError(`slot capacity must be a positive integer, got ${capacity}`);
    return new Slot(callSync(() => this.model.createSlot(capacity, DTYPE_CODE[dt])), this, dt);
  }

  async forward(entries: ForwardEntry[], o: ForwardOptions = {}): Promise<EntryLogits[]> {
    this.check();
    const vocab = this.config.vocabSize;
    const plans = entries.map((e, i) => planEntry(e, i, this, vocab));
    const seen = new Set<KvSlot>();
    for (const p of plans) {
      if (seen.has(p.slot)) throw new EngineArgumentError('a slot appears twice in one forward call');
      seen.add(p.slot);
    }
    const total = plans.reduce((a, p) => a + p.tokens.length, 0);
    if (total <= this.maxBatchTokens) return this.forwardOnce(plans, total, o.reuseLogits === true);
    for (const p of plans) p.out = new Float32Array(p.rows.length * vocab);
    const done = new Array<number>(plans.length).fill(0); // tokens of each entry already run
    for (;;) {
      const pieces: { plan: EntryPlan; from: number; n: number }[] = [];
      let budget = this.maxBatchTokens;
      for (const p of plans) {
        const left = p.tokens.length - done[p.index]!;
        if (left <= 0 || budget <= 0) continue;
        const n = Math.min(left, budget);
        pieces.push({ plan: p, from: done[p.index]!, n });
        budget -= n;
      }
      if (pieces.length === 0) break;
      const total = this.maxBatchTokens - budget;
      const tokens = new Int32Array(total);
      const counts = new Int32Array(pieces.length);
      const rows: number[] = [];
      const rowOwner: { plan: EntryPlan; r: number }[] = [];
      let off = 0;
      pieces.forEach((pc, i) => {
        tokens.set(pc.plan.tokens.subarray(pc.from, pc.from + pc.n), off);
        counts[i] = pc.n;
        for (const [r, idx] of pc.plan.rows.entries()) {
          if (idx >= pc.from && idx < pc.from + pc.n) {
            rows.push(off + idx - pc.from);
            rowOwner.push({ plan: pc.plan, r });
          }
        }
        off += pc.n;
      });
      const logits = new Float32Array(rows.length * vocab);
      await call(() => this.model.forward(pieces.map((p) => (p.plan.slot as Slot).native), counts, tokens, Int32Array.from(rows), logits));
      rowOwner.forEach(({ plan, r }, i) => plan.out!.set(logits.subarray(i * vocab, (i + 1) * vocab), r * vocab));
      for (const pc of pieces) done[pc.plan.index]! += pc.n;
    }
    return plans.map((p) => ({ positions: p.rows, data: p.out! }));
  }

  private logitsPool: Float32Array | null = null;

  /** A view of n floats of the engine-owned logits buffer (grown, never shrunk). */
  private sharedLogits(n: number): Float32Array {
    if (!this.logitsPool || this.logitsPool.length < n) this.logitsPool = new Float32Array(Math.max(n, 2 * (this.logitsPool?.length ?? 0)));
    return this.logitsPool.subarray(0, n);
  }

  /** Everything fits one native call: one logits buffer, and each entry's rows are a view into it. */
  private async forwardOnce(plans: EntryPlan[], total: number, reuse: boolean): Promise<EntryLogits[]> {
    const vocab = this.config.vocabSize;
    const tokens = new Int32Array(total);
    const counts = new Int32Array(plans.length);
    const rows: number[] = [];
    let off = 0;
    plans.forEach((p, i) => {
      tokens.set(p.tokens, off);
      counts[i] = p.tokens.length;
      for (const idx of p.rows) rows.push(off + idx);
      off += p.tokens.length;
    });
    const logits = reuse ? this.sharedLogits(rows.length * vocab) : new Float32Array(rows.length * vocab);
    await call(() => this.model.forward(plans.map((p) => (p.slot as Slot).native), counts, tokens, Int32Array.from(rows), logits));
    let r = 0;
    return plans.map((p) => {
      const data = logits.subarray(r * vocab, (r + p.rows.length) * vocab);
      r += p.rows.length;
      return { positions: p.rows, data };
    });
  }

  counters(): EngineCounters {
    this.check();
    const i = this.model.info();
    return { forwardCalls: i.forwardCalls, tokensProcessed: i.tokensProcessed, forwardAllocations: i.forwardAllocations };
  }

  expertStats(): ExpertLayerStats[] {
    this.check();
    const s = callSync(() => this.model.expertStats());
    if (!s) return [];
    const E = s.nExpert;
    const part = (a: Float64Array, i: number) => Array.from(a.subarray(i * E, (i + 1) * E));
    return Array.from(s.layers, (layer, i) => ({ layer, counts: part(s.counts, i), stepCounts: part(s.stepCounts, i), stepBytes: part(s.stepBytes, i) }));
  }

  resetExpertStats(): void {
    this.check();
    callSync(() => this.model.resetExpertStats());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

interface EntryPlan {
  index: number;
  slot: KvSlot;
  tokens: Int32Array;
  rows: number[]; // indices into tokens whose logits are returned, ascending
  out?: Float32Array; // [rows][vocab], filled across several native calls
}

function planEntry(e: ForwardEntry, index: number, engine: NativeEngine, vocab: number): EntryPlan {
  if (!(e.slot instanceof Slot) || e.slot.owner !== engine) throw new EngineArgumentError(`entry ${index}: the slot is not a slot of this engine`);
  const tokens = Int32Array.from(e.tokens as ArrayLike<number>);
  if (tokens.length === 0) throw new EngineArgumentError(`entry ${index}: no tokens`);
  for (let i = 0; i < tokens.length; i++) {
    const t = (e.tokens as ArrayLike<number>)[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new EngineArgumentError(`entry ${index}: token ${i} (${t}) is not an id in [0, ${vocab})`);
  }
  if (e.slot.length + tokens.length > e.slot.capacity)
    throw new KvCapacityError(`entry ${index}: ${e.slot.length} + ${tokens.length} positions exceed the slot's capacity of ${e.slot.capacity}`);
  const req = e.logits ?? 'last';
  let rows: number[];
  if (req === 'last') rows = [tokens.length - 1];
  else if (req === 'all') rows = Array.from({ length: tokens.length }, (_, i) => i);
  else if (req === 'none') rows = [];
  else {
    rows = [...new Set(req)].sort((a, b) => a - b);
    if (rows.some((r) => !Number.isInteger(r) || r < 0 || r >= tokens.length))
      throw new EngineArgumentError(`entry ${index}: logits rows must be token indices in [0, ${tokens.length})`);
  }
  return { index, slot: e.slot, tokens, rows };
}

/** The addon's code of a tensor's dtype; a type it does not bind (a quantized type before its kernels) is refused by name. */
function tensorDtypeCode(name: string, dtype: TensorDType, file: string): number {
  const code = (DTYPE_CODE as Partial<Record<string, number>>)[dtype];
  if (code === undefined) throw new UnsupportedModelError(`${file}: tensor '${name}' is ${dtype}, a type the native engine does not run`, file, name);
  return code;
}

/** KV dtype that loses nothing w.r.t. the weights: the weights' own dtype (BF16, F16 or F32). */
export function defaultKvDtype(weights: WeightDType): KvDType {
  return weights;
}

/** Loads a validated model spec into the engine: mmaps the weights, starts the thread pool, sizes every buffer. */
export async function loadEngine(spec: ModelSpec<TensorDType>, options: EngineOptions = {}): Promise<Engine> {
  const c = spec.config;
  const own = familyOf(c, spec.dir).nativeParams(c, spec.dir); // the forward file (`arch`) and its parameters
  const threads = options.threads ?? defaultThreads();
  const maxBatchTokens = options.maxBatchTokens ?? 512;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new EngineArgumentError(`threads must be an integer in [1, 256], got ${threads}`);
  if (!Number.isInteger(maxBatchTokens) || maxBatchTokens < 1 || maxBatchTokens > 65536)
    throw new EngineArgumentError(`maxBatchTokens must be an integer in [1, 65536], got ${maxBatchTokens}`);
  const native = nativeBinding();
  const config = {
    vocab: c.vocabSize, hidden: c.hiddenSize, nLayer: c.nLayers, nHead: c.nHeads, nKvHead: c.nKvHeads,
    headDim: c.headDim, eps: c.rmsNormEps, ropeTheta: c.ropeTheta, tied: c.tieWordEmbeddings,
    ...own, // arch, inter (the dense MLP's width, or the family's), and e.g. ropeDim, layerTypes, linearAttention
    moe: c.moe
      ? {
          nExpert: c.moe.numExperts, nExpertUsed: c.moe.numExpertsPerTok, moeInter: c.moe.moeIntermediateSize, normTopk: c.moe.normTopkProb,
          gating: c.moe.gating ?? 'softmax',
          layers: Array.from({ length: c.nLayers }, (_, i) => (isMoeLayer(c, i) ? 1 : 0)),
        }
      : undefined,
  };
  const tensors = spec.tensors.map((t) => ({ ...t, dtype: tensorDtypeCode(t.name, t.dtype, t.file) }));
  const kernels = options.kernels ?? process.env.RESIDENT_KERNELS ?? 'auto';
  if (!['auto', 'avx512', 'avx2', 'portable'].includes(kernels))
    throw new EngineArgumentError(`kernels must be one of auto, avx512, avx2, portable, got '${kernels}'`);
  const weights = options.weights ?? process.env.RESIDENT_WEIGHTS ?? 'native';
  if (weights !== 'native' && weights !== 'int8') throw new EngineArgumentError(`weights must be native or int8, got '${weights}'`);
  const int8 = weights === 'int8';
  const activations = options.activations ?? process.env.RESIDENT_ACTIVATIONS ?? 'f32';
  if (activations !== 'f32' && activations !== 'bf16') throw new EngineArgumentError(`activations must be f32 or bf16, got '${activations}'`);
  const bf16Activations = activations === 'bf16' && spec.dtype === 'bf16' && !int8; // only BF16 weights take bf16 inputs
  const model = await call(() => native.loadModel(config, tensors, { threads, maxTokens: maxBatchTokens, kernels, int8, bf16Activations }));
  const fingerprint = spec.fingerprint + (int8 ? '+int8' : '') + (bf16Activations ? '+bf16act' : '');
  return new NativeEngine(model, c, spec.dtype, weights, bf16Activations ? 'bf16' : 'f32', fingerprint, maxBatchTokens);
}

/**
 * Whether the kernel level the engine would pick (`kernels`, default RESIDENT_KERNELS or the best) multiplies
 * bf16 pairs on this CPU (AVX512_BF16, vdpbf16ps): probed through the level's bf16 matmul.
 */
export function bf16DotAvailable(kernels = process.env.RESIDENT_KERNELS ?? 'auto'): boolean {
  const b = nativeBinding();
  const level = kernels === 'auto' ? b.kernelLevels[0] : kernels;
  if (!level || !b.kernelLevels.includes(level)) return false;
  return b.kernelMatmul(level, new Float32Array(32), 1, 32, new Uint8Array(64), DTYPE_CODE.bf16, 0, 1, true) !== null;
}

/** Physical cores (distinct thread-sibling sets in sysfs; logical CPUs where sysfs is absent), at least 1. */
export function defaultThreads(): number {
  const logical = availableParallelism();
  try {
    const cores = new Set<string>();
    for (let cpu = 0; cpu < logical; cpu++)
      cores.add(readFileSync(`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`, 'utf8').trim());
    return Math.max(1, Math.min(logical, cores.size));
  } catch {
    return Math.max(1, logical);
  }
}

/**
 * The machine's memory read rate in GB/s: the best of `reps` passes of `threads` threads each summing its own
 * slice of a fresh `mib` MiB buffer (off the event loop). The limit that memory-bound decode runs against.
 */
export async function memoryReadRate(mib = 1024, threads = defaultThreads(), reps = 5): Promise<number> {
  return call(() => nativeBinding().memoryReadRate(mib, threads, reps));
}
