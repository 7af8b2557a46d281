/**
 * The compiled addon (build/Release/resident_engine.node): its raw object shapes, loading it once, and native
 * rejections (an Error with a `code`) turned into named engine errors. Only engine/native.ts wraps it.
 */
import { createRequire } from 'node:module';
import type { WeightPages } from './engine-api.js';
import { DisposedError, EngineArgumentError, EngineError, KvCapacityError, ModelLoadError, UnsupportedModelError } from './errors.js';

export interface NativeSlot {
  readonly length: number;
  readonly capacity: number;
  /** KV bytes of one position (attention layers only). */
  readonly bytesPerToken: number;
  readonly tokensForwarded: number;
  /** Bytes of the recurrent state of the linear-attention layers (0 for models without them). */
  readonly stateBytes: number;
  /** The position the recurrent state belongs to (forward needs it to equal length); -1 for none; length without recurrent layers. */
  readonly statePosition: number;
  residentBytes(): number;
  truncate(n: number): void;
  recycle(): void;
  copyFrom(src: NativeSlot, n: number): Promise<void>;
  readKv(start: number, end: number, into?: Buffer): Promise<Buffer>;
  writeKv(start: number, data: Uint8Array): Promise<void>;
  /** The recurrent state, [recurrent layer][floats] f32, of statePosition. */
  readState(into?: Buffer): Promise<Buffer>;
  /** Sets the recurrent state (stateBytes bytes) to that after `position` positions. */
  writeState(position: number, data: Uint8Array): Promise<void>;
  dispose(): void;
}
export interface NativeModel {
  forward(slots: NativeSlot[], counts: Int32Array, tokens: Int32Array, rows: Int32Array, logits: Float32Array): Promise<void>;
  createSlot(capacity: number, dtype: number): NativeSlot;
  info(): { kernels: string; threads: number; packedWeights: boolean; quantPanels: boolean; weightPages: WeightPages; maxTokens: number; forwardCalls: number; tokensProcessed: number; forwardAllocations: number };
  /** null for a dense model; arrays are [layers.length][nExpert]. */
  expertStats(): { nExpert: number; layers: Int32Array; counts: Float64Array; stepCounts: Float64Array; stepBytes: Float64Array } | null;
  resetExpertStats(): void;
  dispose(): void;
}
export interface NativeBinding {
  loadModel(config: object, tensors: object[], options: object): Promise<NativeModel>;
  allocCounterProbe(): number;
  avx2Available: boolean;
  /** Kernel levels this CPU runs, best first (always ends with 'portable'). */
  kernelLevels: string[];
  /** Test hook: one level's matmul, y: [n][rows] = x: [n][k] · w[r0, r1)ᵀ, other columns 0. */
  kernelMatmul(level: string, x: Float32Array, n: number, k: number, w: Uint8Array, dtype: number, r0: number, r1: number): Float32Array;
  /** x rounded to bf16 through the level's bf16 × bf16 matmul ('packed': on weights packed as at load); null where the level (or CPU) has none. */
  kernelMatmul(level: string, x: Float32Array, n: number, k: number, w: Uint8Array, dtype: number, r0: number, r1: number, mode: true | 'packed' | 'panel'): Float32Array | null;
  /** Test hook: the Gated DeltaNet block (engine/native/delta-net.h) on given arrays; see delta-net-hook.cpp for the fields. */
  deltaNetTest(args: Record<string, unknown>): { out: Float32Array; convState: Float32Array; state: Float32Array; seconds: number; cpuSeconds: number; allocations: number };
  /** Rows of x (k values each) quantized to GGUF block type `dtype` (DTYPE_CODE q8_0…q6_k); k a multiple of the block size. */
  quantizeRows(dtype: number, x: Float32Array, k: number): Uint8Array;
  /** The first n values (whole blocks) of block-type bytes w, through one level's to_f32. */
  dequantizeRows(level: string, dtype: number, w: Uint8Array, n: number): Float32Array;
  /** One thread timing `reps` matmuls of a random rows × k weight in block type dtype by n tokens; gbps: weight bytes read per second. */
  quantMatmulRate(level: string, dtype: number, rows: number, k: number, n: number, reps: number): { seconds: number; gbps: number };
  quantMatmulRate(level: string, dtype: number, rows: number, k: number, n: number, reps: number, panels: true): { seconds: number; gbps: number } | null;
  /** Whether the AVX-512 level's block-quant matmul uses AVX512_VNNI (else it runs the AVX2 kernel). */
  avx512Vnni: boolean;
  /**
   * The next token of one logits row (engine/native/sampling.h), overwritten in place: mask (bitset or null) →
   * greedy if temperature 0, else top-k → top-p → min-p → the draw at u in [0, 1). −1: no finite logit; −2: the
   * mask allows none. level: a kernel level (default the best).
   */
  sampleRow(row: Float32Array, mask: Uint32Array | null, temperature: number, topK: number, topP: number, minP: number, u: number, level?: string): number;
  /** Best read rate in GB/s of `threads` threads over a fresh buffer of `mib` MiB in `reps` passes (off the event loop). */
  memoryReadRate(mib: number, threads: number, reps: number): Promise<number>;
}

let binding: NativeBinding | undefined;
/** Loads the compiled addon once. */
export function nativeBinding(): NativeBinding {
  if (!binding) {
    const require = createRequire(import.meta.url);
    try {
      binding = require('../build/Release/resident_engine.node') as NativeBinding;
    } catch (err) {
      throw new EngineError(`the native engine is not built (run 'npm install' or 'npm run build:native'): ${(err as Error).message}`);
    }
  }
  return binding;
}

/** Maps a native rejection (Error with a `code`) to a named engine error. */
function toNamedError(err: unknown): Error {
  const e = err as Error & { code?: string };
  switch (e?.code) {
    case 'load_error': return new ModelLoadError(e.message);
    case 'unsupported': return new UnsupportedModelError(e.message);
    case 'argument_error': return new EngineArgumentError(e.message);
    case 'capacity_error': return new KvCapacityError(e.message);
    case 'disposed': return new DisposedError(e.message);
    case 'internal_error': return new EngineError(e.message);
    default: return e instanceof Error ? e : new EngineError(String(err));
  }
}

export async function call<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw toNamedError(err);
  }
}

export function callSync<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw toNamedError(err);
  }
}

