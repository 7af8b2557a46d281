/**
 * Configuration of `resident serve`: flags (and environment) → a validated {@link ServeConfig}.
 * Parsing is pure and synchronous; every problem is a {@link ConfigError} naming the flag.
 * Checks that need the file system (model folder, MCP config, skills folders) run in
 * {@link checkServePaths} and, for their contents, when the host starts.
 */
import { ResidentError } from '../engine/util/resident-error.js';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultThreads } from '../engine/native.js';
import { isGgufModel } from '../engine/model/load-model.js';
import type { ActivationMode, WeightMode } from '../engine/engine-api.js';
import { DEFAULT_DURABILITY, type DurabilityMode } from '../sessions/journal-sync.js';

/** A bad flag value or an unusable path; `flag` names it (e.g. `--port`). The CLI exits with code 2. */
export class ConfigError extends ResidentError {
  override name = 'ConfigError';
  override code = 'config_error';
  override status = 400;
  constructor(message: string, readonly flag?: string) {
    super(message);
  }
}

/** Everything the server and its host need to start. */
export interface ServeConfig {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Root of persisted data: sessions, the generated demo model. Absolute. */
  dataDir: string;
  /** Hugging Face model folder (absolute); undefined = the generated demo model. */
  model?: string;
  /** Weight dtype of the generated demo model. */
  demoDtype: 'f32' | 'bf16';
  /** Model id reported by /v1/models and in responses; default the folder name. */
  modelName?: string;
  /** Extra model names requests may use (`--model-alias`, repeatable); listed by /v1/models. */
  modelAliases: string[];
  /** Bearer token every route but /health requires; undefined = open. */
  apiKey?: string;
  /** Keys file (`--keys`, JSON or YAML: key → tenant, role, limits; runtime/tenants/keys-file.ts), re-read on SIGHUP. Absolute. */
  keysFile?: string;
  threads: number;
  /** Matmul weights as stored ('native') or quantized to int8 at load (about half the bytes per decode step). */
  weights: WeightMode;
  /** Matmul inputs with BF16 weights: f32, bf16 (vdpbf16ps: faster prefill and batching), or auto (default: bf16 exactly where the weights are BF16 and the CPU has AVX512_BF16; host/fast-defaults.ts). */
  activations: ActivationMode | 'auto';
  /** KV slots held resident at once; undefined = derived from the KV budget at start (host/fast-defaults.ts). */
  slots?: number;
  /** KV bytes resident sessions may hold together; undefined = half the available memory after the weights. */
  kvBudgetBytes?: number;
  /** Recurrent-state checkpoint bytes each session keeps (hybrid models); undefined = 64 MiB or 8 states. */
  checkpointBudgetBytes?: number;
  /** Positions per KV slot (the context window); undefined = the model's maximum. */
  contextTokens?: number;
  /** Largest number of tokens in one forward call. */
  batchTokens: number;
  /** Longest step carrying a prefill chunk while streams decode, × a decode-only step; false = the whole budget. */
  prefillShare: number | false;
  /** Default completion budget when a request gives none (clamped to the room left in the slot). */
  defaultMaxTokens: number;
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Longest wait of a request for a busy KV slot before 429 `slots_busy` with Retry-After (ms). */
  maxQueueWaitMs: number;
  /** Session journal durability: strict (fdatasync before a token is sent) or batched (synced together every syncWindowMs). */
  durability: DurabilityMode;
  /** batched: longest delay from a journal write to its fdatasync (ms). */
  syncWindowMs: number;
  /** Anonymous chat-completion sessions kept for prefix reuse (least recently used are deleted). */
  chatSessions: number;
  /** Stored Responses API responses kept (the oldest beyond it are deleted, with sessions no kept response uses). */
  storedResponses: number;
  /** MCP servers config file (`mcpServers` JSON), for the agent loop. Absolute. */
  mcpConfig?: string;
  /** Skills folders, for the agent loop. Absolute. */
  skills: string[];
  /** Host names the Host header may carry besides IP literals, `localhost` and `host` (`--allow-host`; `*` = any). */
  allowHosts: string[];
  /** Origins (`https://app.example`) browsers may send requests from (`--allow-origin`; `*` = any). */
  allowOrigins: string[];
  /** A connection must deliver its request headers within this (ms). */
  headersTimeoutMs: number;
  /** A connection must deliver its whole request (headers and body) within this (ms); responses are not limited. */
  requestTimeoutMs: number;
  /** MCP transport sessions idle this long (ms) are closed. */
  mcpIdleMs: number;
}

/** Defaults of every optional setting. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  demoDtype: 'f32',
  batchTokens: 512,
  prefillShare: 1.5,
  defaultMaxTokens: 1024,
  maxBodyBytes: 8 * 2 ** 20,
  chatSessions: 64,
  maxQueueWaitMs: 30_000,
  storedResponses: 1000,
  headersTimeoutS: 30,
  requestTimeoutS: 120,
  mcpIdleS: 900,
} as const;

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * Parses a byte size: an integer or decimal with an optional binary suffix K, M, G, T (also KB/KiB…,
 * case-insensitive): `8G` = 8·2³⁰. Throws ConfigError naming `flag`.
 */
export function parseByteSize(text: string, flag = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`${flag} must be a byte size such as 8G, 512M or 1048576, got '${text}'`, flag);
  const n = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${flag} must be a positive byte size, got '${text}'`, flag);
  return n;
}

/** `--prefill-share F|off`: a factor in (1, 100], or off. */
function prefillShareFlag(v: string | undefined): number | false {
  if (v === undefined) return SERVE_DEFAULTS.prefillShare;
  if (v === 'off') return false;
  const f = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(f > 1 && f <= 100)) throw new ConfigError(`--prefill-share takes a factor above 1 (at most 100) or off, got '${v}'`, '--prefill-share');
  return f;
}

function intFlag(v: string | undefined, flag: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (!/^\s*-?\d+\s*$/.test(v)) throw new ConfigError(`${flag} must be an integer, got '${v}'`, flag);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(`${flag} must be in [${min}, ${max}], got ${n}`, flag);
  return n;
}

/** Flag definitions shared by the parser and the usage text. */
const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  model: { type: 'string' },
  'model-name': { type: 'string' },
  'model-alias': { type: 'string', multiple: true },
  'demo-dtype': { type: 'string' },
  'api-key': { type: 'string' },
  keys: { type: 'string' },
  threads: { type: 'string' },
  weights: { type: 'string' },
  activations: { type: 'string' },
  slots: { type: 'string' },
  'kv-budget': { type: 'string' },
  'checkpoint-budget': { type: 'string' },
  context: { type: 'string' },
  batch: { type: 'string' },
  'prefill-share': { type: 'string' },
  'max-tokens': { type: 'string' },
  'max-body': { type: 'string' },
  'chat-sessions': { type: 'string' },
  durability: { type: 'string' },
  'max-queue-wait': { type: 'string' },
  'sync-window': { type: 'string' },
  'stored-responses': { type: 'string' },
  'mcp-config': { type: 'string' },
  skills: { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  'allow-origin': { type: 'string', multiple: true },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'mcp-idle': { type: 'string' },
} as const;

/**
 * Parses `resident serve` flags. `env.RESIDENT_API_KEY` is the API key when `--api-key` is absent.
 * Relative paths resolve against `cwd`. Throws ConfigError with a message naming the flag.
 */
export function parseServeArgs(argv: string[], env: Record<string, string | undefined> = process.env, cwd = process.cwd()): ServeConfig {
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const str = (k: keyof typeof OPTIONS) => values[k] as string | undefined;
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'string' && v.trim() === '') throw new ConfigError(`--${k} must not be empty`, `--${k}`);
  }
  const host = str('host') ?? SERVE_DEFAULTS.host;
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) throw new ConfigError(`--host must be a host name or IP address, got '${host}'`, '--host');
  const demoDtype = str('demo-dtype') ?? SERVE_DEFAULTS.demoDtype;
  if (demoDtype !== 'f32' && demoDtype !== 'bf16') throw new ConfigError(`--demo-dtype must be f32 or bf16, got '${demoDtype}'`, '--demo-dtype');
  if (str('demo-dtype') !== undefined && str('model') !== undefined) throw new ConfigError('--demo-dtype applies only to the generated demo model; drop it or --model', '--demo-dtype');
  const apiKey = str('api-key') ?? (env.RESIDENT_API_KEY || undefined);
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) throw new ConfigError('the API key must be printable ASCII without spaces (--api-key or RESIDENT_API_KEY)', '--api-key');
  const keysFile = str('keys') !== undefined ? resolve(cwd, str('keys')!) : undefined;
  if (keysFile !== undefined && apiKey !== undefined) throw new ConfigError(`--keys and ${str('api-key') !== undefined ? '--api-key' : 'RESIDENT_API_KEY'} exclude each other: put the key in the keys file`, '--keys');
  const modelName = str('model-name');
  if (modelName !== undefined && !/^[\w.:/@-]{1,128}$/.test(modelName)) throw new ConfigError(`--model-name may hold letters, digits and . _ : / @ - (1..128), got '${modelName}'`, '--model-name');
  const modelAliases = (values['model-alias'] as string[] | undefined) ?? [];
  for (const a of modelAliases) if (!/^[\w.:/@\[\]-]{1,128}$/.test(a)) throw new ConfigError(`--model-alias may hold letters, digits and . _ : / @ [ ] - (1..128), got '${a}'`, '--model-alias');
  const context = str('context');
  const weights = str('weights') ?? 'native';
  if (weights !== 'native' && weights !== 'int8') throw new ConfigError(`--weights must be native or int8, got '${weights}'`, '--weights');
  const allowHosts = (values['allow-host'] as string[] | undefined) ?? [];
  for (const h of allowHosts) if (!/^(\*|[A-Za-z0-9.-]{1,253})$/.test(h)) throw new ConfigError(`--allow-host takes a host name (no port) or *, got '${h}'`, '--allow-host');
  const allowOrigins = (values['allow-origin'] as string[] | undefined) ?? [];
  for (const o of allowOrigins) if (!/^(\*|https?:\/\/[A-Za-z0-9.\-[\]:]+)$/.test(o)) throw new ConfigError(`--allow-origin takes an origin such as https://app.example:3000, or *, got '${o}'`, '--allow-origin');
  const headersTimeoutS = intFlag(str('headers-timeout'), '--headers-timeout', SERVE_DEFAULTS.headersTimeoutS, 1, 3600);
  const requestTimeoutS = intFlag(str('request-timeout'), '--request-timeout', SERVE_DEFAULTS.requestTimeoutS, 1, 86400);
  if (requestTimeoutS < headersTimeoutS) throw new ConfigError(`--request-timeout (${requestTimeoutS}) must be at least --headers-timeout (${headersTimeoutS})`, '--request-timeout');
  const activations = str('activations') ?? (env.RESIDENT_ACTIVATIONS || 'auto');
  if (activations !== 'f32' && activations !== 'bf16' && activations !== 'auto') throw new ConfigError(`--activations must be auto, f32 or bf16, got '${activations}'`, '--activations');
  const durability = str('durability') ?? DEFAULT_DURABILITY.mode;
  if (durability !== 'strict' && durability !== 'batched') throw new ConfigError(`--durability must be strict or batched, got '${durability}'`, '--durability');
  if (str('sync-window') !== undefined && durability !== 'batched') throw new ConfigError('--sync-window applies to --durability batched', '--sync-window');
  return {
    host,
    port: intFlag(str('port'), '--port', SERVE_DEFAULTS.port, 0, 65535),
    dataDir: resolve(cwd, str('data') ?? SERVE_DEFAULTS.dataDir),
    model: str('model') !== undefined ? resolve(cwd, str('model')!) : undefined,
    demoDtype,
    modelName,
    modelAliases,
    apiKey,
    keysFile,
    threads: intFlag(str('threads'), '--threads', defaultThreads(), 1, 256),
    weights,
    activations,
    slots: str('slots') !== undefined ? intFlag(str('slots'), '--slots', 0, 1, 4096) : undefined,
    kvBudgetBytes: str('kv-budget') !== undefined ? parseByteSize(str('kv-budget')!, '--kv-budget') : undefined,
    checkpointBudgetBytes: str('checkpoint-budget') !== undefined ? parseByteSize(str('checkpoint-budget')!, '--checkpoint-budget') : undefined,
    contextTokens: context !== undefined ? intFlag(context, '--context', 0, 16, 1 << 24) : undefined,
    batchTokens: intFlag(str('batch'), '--batch', SERVE_DEFAULTS.batchTokens, 1, 65536),
    prefillShare: prefillShareFlag(str('prefill-share')),
    defaultMaxTokens: intFlag(str('max-tokens'), '--max-tokens', SERVE_DEFAULTS.defaultMaxTokens, 1, 1 << 24),
    maxBodyBytes: str('max-body') !== undefined ? parseByteSize(str('max-body')!, '--max-body') : SERVE_DEFAULTS.maxBodyBytes,
    durability,
    maxQueueWaitMs: intFlag(str('max-queue-wait'), '--max-queue-wait', SERVE_DEFAULTS.maxQueueWaitMs, 1, 3_600_000),
    syncWindowMs: intFlag(str('sync-window'), '--sync-window', DEFAULT_DURABILITY.windowMs, 1, 60_000),
    chatSessions: intFlag(str('chat-sessions'), '--chat-sessions', SERVE_DEFAULTS.chatSessions, 1, 100_000),
    storedResponses: intFlag(str('stored-responses'), '--stored-responses', SERVE_DEFAULTS.storedResponses, 1, 10_000_000),
    mcpConfig: str('mcp-config') !== undefined ? resolve(cwd, str('mcp-config')!) : undefined,
    skills: ((values.skills as string[] | undefined) ?? []).map((d) => resolve(cwd, d)),
    allowHosts,
    allowOrigins: allowOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()),
    headersTimeoutMs: headersTimeoutS * 1000,
    requestTimeoutMs: requestTimeoutS * 1000,
    mcpIdleMs: intFlag(str('mcp-idle'), '--mcp-idle', SERVE_DEFAULTS.mcpIdleS, 1, 86400 * 7) * 1000,
  };
}

/** Builds a config from defaults and overrides (for tests and embedding); validates like the parser does for paths. */
export function serveConfig(overrides: Partial<ServeConfig> = {}): ServeConfig {
  return { ...parseServeArgs([], {}), ...overrides };
}

/**
 * File-system checks of a config: the model folder holds config.json (or --model names a GGUF model), the MCP config file exists,
 * every skills folder is a directory, the data directory is not a file. Throws ConfigError.
 */
export function checkServePaths(c: ServeConfig): void {
  const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
  if (c.model !== undefined) {
    let gguf: boolean;
    try {
      gguf = isGgufModel(c.model);
    } catch (e) {
      throw new ConfigError(`--model ${c.model}: ${(e as Error).message}`, '--model');
    }
    if (!gguf && !isDir(c.model)) throw new ConfigError(`--model ${c.model} is not a folder or a .gguf file`, '--model');
    if (!gguf && !existsSync(resolve(c.model, 'config.json'))) throw new ConfigError(`--model ${c.model} has no config.json and no .gguf (expected a Hugging Face model folder or a GGUF model)`, '--model');
  }
  if (existsSync(c.dataDir) && !statSync(c.dataDir).isDirectory()) throw new ConfigError(`--data ${c.dataDir} exists and is not a folder`, '--data');
  if (c.mcpConfig !== undefined && !(existsSync(c.mcpConfig) && statSync(c.mcpConfig).isFile())) {
    throw new ConfigError(`--mcp-config ${c.mcpConfig} is not a file`, '--mcp-config');
  }
  for (const d of c.skills) if (!isDir(d)) throw new ConfigError(`--skills ${d} is not a folder`, '--skills');
}
