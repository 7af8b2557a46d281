/**
 * The engine's public contract, implemented by `engine/native.ts` (the only door to the binary).
 * Sessions and the scheduler program against these types.
 */
import type { ModelConfig, WeightDType } from './model/model-spec.js';

export type KvDType = 'bf16' | 'f16' | 'f32';

/** Kernel levels of the native engine, best first; 'auto' = the best this CPU runs. */
export type KernelLevel = 'auto' | 'avx512' | 'avx2' | 'portable';

/** Options for loading a model into the engine. */
export interface EngineOptions {
  /** Worker threads of the persistent pool; default: physical cores. */
  threads?: number;
  /** Largest number of tokens one forward call may carry (all entries together); buffers are sized for it. Default 512. */
  maxBatchTokens?: number;
  /**
   * Highest kernel level allowed. 'auto' (default) picks the best the CPU runs: 'avx512' (AVX-512 F/BW/VL/DQ
   * with OS-saved zmm state), else 'avx2' (AVX2+FMA+F16C), else 'portable' (scalar). Naming a level forces
   * that level or the best one below it. Without this option, the RESIDENT_KERNELS environment variable
   * (same values) applies.
   */
  kernels?: KernelLevel;
  /**
   * 'native' (default): matmul weights stay in the file's dtype (mmapped). 'int8': projection, MLP,
   * expert and lm_head weights are quantized at load to int8 with one f32 scale per 32 values (about
   * half the bytes of BF16 per decode step; embeddings, router and norms keep their dtype). Without this
   * option, the RESIDENT_WEIGHTS environment variable (same values) applies.
   */
  weights?: WeightMode;
  /**
   * 'f32' (default): activations enter every matmul as f32. 'bf16': with BF16 weights (native mode), each
   * matmul's input is rounded to BF16 first — what llama.cpp's BF16 path and BF16 PyTorch do — so CPUs with
   * AVX512_BF16 multiply bf16 pairs (vdpbf16ps: twice the multiply-adds per instruction of f32 FMA; faster
   * prefill and batched decode) at a small accuracy cost measured by `resident bench`. Other weights are
   * unaffected. Without this option, the RESIDENT_ACTIVATIONS environment variable (same values) applies.
   */
  activations?: ActivationMode;
}

/** How matmul weights are held: as stored ('native') or quantized to int8 at load. */
export type WeightMode = 'native' | 'int8';

/** Precision of matmul inputs with BF16 weights (EngineOptions.activations). */
export type ActivationMode = 'f32' | 'bf16';
/** Where the matmul weights are read (Engine.weightPages). */
export type WeightPages = '2m-file' | '2m-copy' | '4k-file';

/**
 * A KV slot: one sequence's K/V store, `[layer][kv_head][pos][head_dim]`, reserved for `capacity`
 * positions and committed lazily. Invariant: positions `[0, length)` hold valid K/V.
 */
export interface KvSlot {
  readonly id: number;
  readonly capacity: number;
  readonly kvDtype: KvDType;
  /** Number of valid positions. */
  readonly length: number;
  /** K+V bytes per position over all layers and heads. */
  readonly bytesPerToken: number;
  /** Positions this slot's forward passes computed since creation (copies and restores not counted). */
  readonly tokensForwarded: number;
  /** Keeps the first `n` positions (n ≤ length); later writes start at n. */
  truncate(n: number): void;
  // Operations (forward, copyFrom, readKv, writeKv) on different slots may overlap; a second
  // operation on a slot whose earlier one has not finished is refused (EngineArgumentError).
  /** Copies the first `n` positions of `src` into this slot (fork); this slot's length becomes n. */
  copyFrom(src: KvSlot, n: number): Promise<void>;
  /**
   * Empties the slot (length and tokensForwarded 0) but keeps its committed pages, so a pooled slot's
   * next writes (restore, fork copy, prefill) land on memory that is already mapped. residentBytes stays.
   */
  recycle(): void;
  /**
   * Raw K/V of positions [start, end), laid out [layer][k|v][kv_head][pos][head_dim] in kvDtype; written into
   * `into` (exactly that many bytes, reused across chunks) when given, else into a new Buffer.
   */
  readKv(start: number, end: number, into?: Buffer): Promise<Buffer>;
  /** Writes raw K/V (as produced by readKv) at positions [start, start + n); start ≤ length; length becomes start + n. */
  writeKv(start: number, data: Uint8Array): Promise<void>;
  /**
   * Bytes of the recurrent state of the model's linear-attention layers (Qwen3.5 / 3.6 hybrids: per such layer
   * the conv window and the delta-rule state, f32); 0 for models without them (then the state methods are no-ops).
   */
  readonly stateBytes: number;
  /**
   * The position the recurrent state belongs to: equal to `length` when current. truncate() to another length,
   * writeKv() and copyFrom() of a source whose state is not at n leave it stale (forward refuses a stale slot)
   * until writeState(length, …) restores a checkpoint; -1 when it belongs to no position. Always `length`
   * without linear-attention layers.
   */
  readonly statePosition: number;
  /** The recurrent state (stateBytes bytes, `[linear layer][floats]` f32) as of statePosition; into `into` when given. */
  readState(into?: Buffer): Promise<Buffer>;
  /** Sets the recurrent state to a checkpoint taken after `position` positions (as produced by readState). */
  writeState(position: number, data: Uint8Array): Promise<void>;
  /** Bytes of K/V memory the slot currently holds committed (approximately, page-granular). */
  residentBytes(): number;
  /** Frees the slot's memory. Idempotent. */
  dispose(): void;
}

/** Which positions of an entry need logits. */
export type LogitsRequest = 'last' | 'all' | 'none' | number[];

/** One sequence's work in a forward call: `tokens` are written at positions [slot.length, slot.length + n). */
export interface ForwardEntry {
  slot: KvSlot;
  tokens: ArrayLike<number>;
  logits?: LogitsRequest; // default 'last'
}

/** Logits for one entry: `rows` × vocab, row r is the distribution after token `positions[r]` of the entry. */
export interface EntryLogits {
  positions: number[];
  data: Float32Array;
}

/** Options of one forward call. */
export interface ForwardOptions {
  /**
   * The logits may be views into one engine-owned buffer, valid only until the next forward call that also
   * sets `reuseLogits` (a step loop that consumes every row before its next step: no per-step allocation).
   */
  reuseLogits?: boolean;
}

/** Monotonic counters since load. */
export interface EngineCounters {
  forwardCalls: number;
  tokensProcessed: number;
  /** Heap allocations made by the native forward path (must stay flat in steady state). */
  forwardAllocations: number;
}

/**
 * Expert statistics of one MoE layer (Qwen3-MoE), one entry per expert. "Step" = the last native forward
 * call (Engine.forward runs one per maxBatchTokens chunk).
 */
export interface ExpertLayerStats {
  /** Layer index in the model. */
  layer: number;
  /** Tokens routed to each expert since load or the last resetExpertStats(); sums to tokens × experts-per-token. */
  counts: number[];
  /** Tokens routed to each expert in the last step. */
  stepCounts: number[];
  /** Weight bytes of each expert (gate + up + down) read in the last step: 0 = untouched, else once per step. */
  stepBytes: number[];
}

/** A loaded model bound to a thread pool and preallocated activation buffers. */
export interface Engine {
  readonly config: ModelConfig;
  readonly weightDtype: WeightDType;
  /** 'int8' when matmul weights were quantized at load (EngineOptions.weights). */
  readonly weightMode: WeightMode;
  /** 'bf16' when BF16 weights multiply activations rounded to BF16 (EngineOptions.activations), else 'f32'. */
  readonly activationMode: ActivationMode;
  /**
   * True when bf16 activations run on BF16 weights repacked at load into the dot kernel's panels (an
   * anonymous copy that replaces the mmapped rows in memory; same results as packing per call). Off with
   * RESIDENT_BF16_PACK=0, or when the copy would take over 3/4 of the available memory.
   */
  readonly packedWeights: boolean;
  /**
   * True when block-quant (GGUF) weights run prefill through weight panels built once per matmul (the same integer
   * sums as the tile kernels), codes as bytes: 32 rows for every block type through vpdpbusd on AVX512_VNNI CPUs,
   * 8 rows for q4_0 and the k-quants through vpmaddubsw on AVX2 (q8_0 stays on the tiles there). Off with
   * RESIDENT_QUANT_PANEL=0 and on portable.
   */
  readonly quantPanels: boolean;
  /**
   * Where decode reads the matmul weights, which it streams once per token: '2m-file' (the files' page cache maps
   * with 2 MiB entries: nothing copied), '2m-copy' (anonymous 2 MiB pages: bf16 panels, int8, or weights of a file in
   * 4 KiB pages copied at load), '4k-file' (some from a file's 4 KiB pages: RESIDENT_WEIGHT_COPY=0, or the copy would
   * take over 3/4 of the available memory). 2 MiB pages decode faster: the hardware prefetchers stop at every page boundary.
   */
  readonly weightPages: WeightPages;
  /** Identifies the weights as computed: the model's fingerprint, suffixed '+int8' in int8 mode and '+bf16act' with bf16 activations (KV differs). */
  readonly fingerprint: string;
  readonly threads: number;
  readonly maxBatchTokens: number;
  /** Which kernel path is in use: 'avx512', 'avx2' or 'portable'. */
  readonly kernels: string;
  /** Reserves a slot for `capacity` positions (address space only; pages commit as positions are written). */
  createSlot(capacity: number, kvDtype?: KvDType): KvSlot;
  /**
   * Runs one forward over a batch of entries (several slots at once; each slot at most once per call).
   * Splits internally into chunks of at most maxBatchTokens. Resolves to one EntryLogits per entry.
   */
  forward(entries: ForwardEntry[], o?: ForwardOptions): Promise<EntryLogits[]>;
  counters(): EngineCounters;
  /** Per-MoE-layer expert activation statistics, in layer order ([] for a dense model). Optional: engines without expert statistics omit it. */
  expertStats?(): ExpertLayerStats[];
  /** Zeroes the cumulative expert `counts` (step figures are replaced by every forward call). */
  resetExpertStats?(): void;
  /** Frees the model, its buffers and every slot. Idempotent; later calls throw DisposedError. */
  dispose(): void;
}
