/**
 * The composed runtime: config → model folder (or the generated demo model) → engine (timed),
 * scheduler, session store, tokenizer, chat template, append protocol, grammar vocabulary → chat
 * runner and chat-completions service; plus the MCP config and skills catalog for the agent loop.
 * One object: `await new Host(config).start()`, then `close()`.
 */
import { storageErrorOf } from '../../sessions/errors.js';
import { ResidentError } from '../../engine/util/resident-error.js';
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import type { Engine } from '../../engine/engine-api.js';
import { ModelLoadError } from '../../engine/errors.js';
import { loadGrammarVocab, type GrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import { bf16DotAvailable, loadEngine } from '../../engine/native.js';
import { Scheduler } from '../../engine/scheduler.js';
import { AppendProtocol } from '../../engine/tokens/append-protocol.js';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import { ChatTemplateError, TokenizerError } from '../../engine/tokens/errors.js';
import { TokenBytesError } from '../../engine/tokens/token-bytes.js';
import { type Tokenizer } from '../../engine/tokens/tokenizer.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { SessionStore } from '../../sessions/store.js';
import { loadSkillsCatalog, type SkillsCatalog } from '../../skills/index.js';
import { loadMcpConfig, McpConfigError, type McpConfig } from '../../tools/index.js';
import { ChatService } from '../chat/chat-service.js';
import { ChatRunner } from '../chat/runner.js';
import type { TurnResult } from '../chat/types.js';
import { checkServePaths, ConfigError, type ServeConfig } from '../config.js';
import { demoModelName, ensureDemoModel } from './demo-model.js';
import { availableMemoryBytes, capacityNote, defaultKvBudget, defaultSlots, resolveActivations } from './fast-defaults.js';
import { ActivityLog } from './activity-log.js';
import { BoundedLabel, LATENCY_BUCKETS, MetricsRegistry, type Counter, type Histogram } from './metrics.js';
import { kvBytesByTenant, sessionsByTenant } from './tenant-metrics.js';
import { timedEngine } from './timed-engine.js';
import { KeyRing } from '../tenants/key-ring.js';
import { checkGrowth, checkNewSession, RateLimiter, usageOf } from '../tenants/limits.js';
import { DEFAULT_TENANT_ID, ownerOfSettings } from '../tenants/tenant.js';
import type { Session } from '../../sessions/session.js';

/** Counters and histograms the host keeps (rendered by GET /metrics). */
export interface HostMetrics {
  registry: MetricsRegistry;
  prefilled: Counter;
  reused: Counter;
  generated: Counter;
  turns: Counter;
  stepSeconds: Histogram;
  requests: Counter;
  inFlight: { value: number };
  /** The `tenant` label of tokens, sessions and KV bytes, bounded (overflow → `other`). */
  tenantLabel: BoundedLabel;
}

export interface HostOptions {
  /** Progress and warnings (default: stderr). */
  log?: (line: string) => void;
}

/** Thrown by accessors used before start() or after close(). */
export class HostStateError extends ResidentError {
  override name = 'HostStateError';
  override code = 'host_not_ready';
  override status = 503;
}

export class Host {
  readonly log: (line: string) => void;
  readonly metrics: HostMetrics;
  private parts?: {
    modelDir: string;
    modelId: string;
    engine: Engine;
    scheduler: Scheduler;
    store: SessionStore;
    tokenizer: Tokenizer;
    template: ChatTemplate;
    protocol: AppendProtocol;
    vocab: GrammarVocab;
    runner: ChatRunner;
    chat: ChatService;
    capacity: number;
  };
  /** Validated MCP servers config (connected by the agent loop), if --mcp-config was given. */
  mcp?: McpConfig;
  /** Skills catalog, if --skills was given. */
  skills?: SkillsCatalog;
  /** What the flags left to the host, as resolved at start (fast-defaults.ts), with the lines printed for them. */
  resolved?: { activations: 'f32' | 'bf16'; slots: number; kvBudgetBytes: number; weightBytes: number; notes: string[] };
  readonly startedAt = Date.now();
  /** Recent turns and a ring of counter samples (the console's plots): 64 turns, 10 min at 2 s. */
  readonly activity = new ActivityLog({ maxTurns: 64, maxSamples: 300, intervalMs: 2000 });
  private closed = false;
  private ring?: KeyRing;
  /** Requests-per-minute buckets of the tenants (runtime/tenants/limits.ts). */
  readonly rate = new RateLimiter();

  constructor(readonly config: ServeConfig, o: HostOptions = {}) {
    this.log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
    const registry = new MetricsRegistry();
    this.metrics = {
      registry,
      prefilled: registry.counter('resident_prompt_tokens_prefilled_total', 'Prompt tokens the engine computed'),
      reused: registry.counter('resident_prompt_tokens_reused_total', 'Prompt tokens whose K/V was reused (resident or restored) instead of recomputed'),
      generated: registry.counter('resident_tokens_generated_total', 'Tokens sampled'),
      turns: registry.counter('resident_turns_total', 'Assistant turns finished, by finish reason'),
      stepSeconds: registry.histogram('resident_step_seconds', 'Wall time of one scheduler step (one engine forward call)', LATENCY_BUCKETS),
      requests: registry.counter('resident_http_requests_total', 'HTTP requests, by route and status'),
      inFlight: { value: 0 },
      tenantLabel: new BoundedLabel(32),
    };
  }

  private get p() {
    if (!this.parts || this.closed) throw new HostStateError(this.closed ? 'the host is closed' : 'the host is not started');
    return this.parts;
  }
  get modelDir(): string { return this.p.modelDir; }
  get modelId(): string { return this.p.modelId; }
  get engine(): Engine { return this.p.engine; }
  get scheduler(): Scheduler { return this.p.scheduler; }
  get store(): SessionStore { return this.p.store; }
  get tokenizer(): Tokenizer { return this.p.tokenizer; }
  get template(): ChatTemplate { return this.p.template; }
  get protocol(): AppendProtocol { return this.p.protocol; }
  get vocab(): GrammarVocab { return this.p.vocab; }
  /** The assistant-turn runner (sessions, agent loop, MCP server). */
  get runner(): ChatRunner { return this.p.runner; }
  /** Stateless chat completions with prefix reuse. */
  get chat(): ChatService { return this.p.chat; }
  /** Positions per KV slot. */
  get capacity(): number { return this.p.capacity; }
  get started(): boolean { return !!this.parts && !this.closed; }
  /** The keys and the tenant each acts as (open, one --api-key, or --keys); set by start(). */
  get tenants(): KeyRing { return this.ring ?? (this.ring = this.config.keysFile ? KeyRing.fromFile(this.config.keysFile, this.log) : this.config.apiKey !== undefined ? KeyRing.single(this.config.apiKey) : KeyRing.open()); }

  /** Sessions and KV bytes owned by a tenant. */
  usage(owner: string) {
    return usageOf(this.store.list(), owner, this.store.format.bytesPerToken, this.store.format.stateBytes);
  }

  /** Throws TenantLimitError when the owner of `s` is at its kv_bytes limit (before appends and turns). */
  admitGrowth(s: Session): void {
    const owner = ownerOfSettings(s.state.settings);
    const limits = this.tenants.limitsOf(owner);
    if (limits.kvBytes !== undefined) checkGrowth(owner, limits, this.usage(owner));
  }

  /** Loads everything; throws ConfigError for unusable flags or model folders. Resolves to this. */
  async start(): Promise<this> {
    if (this.parts) return this;
    const c = this.config;
    checkServePaths(c);
    this.metrics.tenantLabel.seed(this.tenants.tenantIds()); // a bad keys file stops the start here, naming the key path
    if (c.mcpConfig) {
      try {
        this.mcp = await loadMcpConfig(c.mcpConfig);
      } catch (e) {
        if (e instanceof McpConfigError) throw new ConfigError(`--mcp-config: ${e.message}`, '--mcp-config');
        throw e;
      }
      for (const w of this.mcp.warnings) this.log(`warning: --mcp-config: ${w}`);
    }
    if (c.skills.length) {
      this.skills = await loadSkillsCatalog(c.skills);
      for (const w of this.skills.warnings) this.log(`warning: --skills: ${w.file}: ${w.message}`);
    }
    const modelDir = await this.writable(c.dataDir, async () => {
      mkdirSync(c.dataDir, { recursive: true });
      return c.model ?? (await ensureDemoModel(c.dataDir, c.demoDtype, this.log));
    });
    const flag = c.model ? `--model ${modelDir}` : `demo model ${modelDir}`;
    let spec;
    try {
      spec = await loadModelSpecFrom(modelDir);
    } catch (e) {
      if (e instanceof ModelLoadError) throw new ConfigError(`${flag}: ${e.message}`, '--model');
      throw e;
    }
    let tokenizer: Tokenizer, template: ChatTemplate;
    try {
      [tokenizer, template] = await Promise.all([loadTokenizer(modelDir), ChatTemplate.fromDir(modelDir)]);
    } catch (e) {
      if (e instanceof TokenizerError || e instanceof ChatTemplateError) throw new ConfigError(`${flag}: ${e.message}`, '--model');
      throw e;
    }
    const capacity = Math.min(c.contextTokens ?? spec.config.maxPositionEmbeddings, spec.config.maxPositionEmbeddings);
    let vocab: GrammarVocab;
    try {
      vocab = loadGrammarVocab(modelDir, spec.config.vocabSize);
    } catch (e) {
      if (e instanceof TokenBytesError) throw new ConfigError(`${flag}: constrained decoding needs a byte-level BPE vocabulary: ${e.message}`, '--model');
      throw e;
    }
    let raw: Engine;
    const act = resolveActivations(c.activations, spec.dtype, c.weights, c.activations === 'auto' && bf16DotAvailable(), spec.matrixTypes?.join('+'));
    try {
      raw = await loadEngine(spec, { threads: c.threads, maxBatchTokens: c.batchTokens, weights: c.weights, activations: act.mode });
    } catch (e) {
      if (e instanceof ModelLoadError) throw new ConfigError(`${flag}: ${e.message}`, '--model');
      throw e;
    }
    try {
      const engine = timedEngine(raw, (s) => this.metrics.stepSeconds.observe(s));
      const scheduler = new Scheduler(engine, { prefillShare: c.prefillShare === false ? false : { factor: c.prefillShare } });
      const probe = raw.createSlot(1);
      const [bytesPerToken, stateBytes] = [probe.bytesPerToken, probe.stateBytes];
      probe.dispose();
      const weightBytes = spec.tensors.reduce((a, t) => a + t.nbytes, 0);
      const kvBudgetBytes = c.kvBudgetBytes ?? defaultKvBudget(availableMemoryBytes(), weightBytes);
      const slots = c.slots ?? defaultSlots(kvBudgetBytes, bytesPerToken, stateBytes, capacity);
      const note = capacityNote({ slots, slotsGiven: c.slots !== undefined, kvBudgetBytes, budgetGiven: c.kvBudgetBytes !== undefined, bytesPerToken, stateBytes, capacity });
      this.resolved = { activations: raw.activationMode, slots, kvBudgetBytes, weightBytes, notes: [act.why, note] };
      const store = await this.writable(c.dataDir, () => SessionStore.open({
        engine, scheduler, dataDir: c.dataDir, maxResidentSlots: slots, kvBudgetBytes, slotCapacity: capacity,
        durability: { mode: c.durability, windowMs: c.syncWindowMs }, maxSlotWaitMs: c.maxQueueWaitMs,
        checkpointBudgetBytes: c.checkpointBudgetBytes,
        admit: (settings) => {
          const owner = ownerOfSettings(settings);
          const limits = this.tenants.limitsOf(owner);
          if (limits.sessions !== undefined || limits.kvBytes !== undefined) checkNewSession(owner, limits, this.usage(owner));
        },
        detokenize: (t) => tokenizer.decode(t), onWarning: (m) => this.log(`warning: ${m}`),
      }));
      const protocol = new AppendProtocol(tokenizer, template);
      protocol.maxTokens = capacity; // a prompt provably beyond the slot is refused before BPE runs
      const runner = new ChatRunner(store, { tokenizer, protocol, vocab, capacity, defaultMaxTokens: c.defaultMaxTokens, onFinish: (r) => this.countTurn(r) });
      runner.admit = (s) => this.admitGrowth(s);
      const chat = new ChatService(runner, { maxSessions: c.chatSessions, onWarning: (m) => this.log(`warning: ${m}`) });
      const modelId = c.modelName ?? (c.model ? basename(modelDir).replace(/\.gguf$/, '') : demoModelName(c.demoDtype));
      this.parts = { modelDir, modelId, engine, scheduler, store, tokenizer, template, protocol, vocab, runner, chat, capacity };
      this.registerGauges();
      this.startActivity();
    } catch (e) {
      raw.dispose();
      throw e;
    }
    return this;
  }

  /** Runs `fn`; a full or unwritable data folder becomes a ConfigError naming the folder (`--data`). */
  private async writable<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const s = storageErrorOf(e, (e as NodeJS.ErrnoException).path ?? dataDir);
      if (s) throw new ConfigError(`--data ${dataDir}: ${s.message}`, '--data');
      throw e;
    }
  }

  /** Owner tenant of a session id as a bounded metrics label. */
  private tenantLabel(sessionId: string): string {
    let owner = DEFAULT_TENANT_ID;
    try {
      owner = ownerOfSettings(this.store.get(sessionId).state.settings);
    } catch { /* deleted meanwhile */ }
    return this.metrics.tenantLabel.value(owner);
  }

  private countTurn(r: TurnResult): void {
    const tenant = { tenant: this.tenantLabel(r.sessionId) };
    this.metrics.prefilled.inc(r.usage.prefilled, tenant);
    this.metrics.reused.inc(r.usage.reused, tenant);
    this.metrics.generated.inc(r.usage.completionTokens, tenant);
    this.metrics.turns.inc(1, { finish: r.finish });
    this.activity.addTurn(r);
  }

  private startActivity(): void {
    const m = this.metrics;
    this.activity.start(() => {
      const mem = this.store.memory();
      const st = this.scheduler.stats();
      return {
        generated: m.generated.total(), prefilled: m.prefilled.total(), turns: m.turns.total(),
        steps: st.steps, stepSecondsSum: m.stepSeconds.total, queueDepth: st.active,
        kvBytes: mem.kvBytes, residentSessions: mem.residentSessions, inFlight: m.inFlight.value,
      };
    });
  }

  private registerGauges(): void {
    const r = this.metrics.registry;
    const mem = () => this.store.memory();
    r.gauge('resident_scheduler_queue_depth', 'Requests (prefills and generations) in the scheduler', () => this.scheduler.stats().active);
    r.counterFrom('resident_scheduler_steps_total', 'Scheduler steps (engine forward calls)', () => this.scheduler.stats().steps);
    r.counterFrom('resident_scheduler_step_tokens_total', 'Tokens carried by scheduler steps', () => this.scheduler.stats().tokens);
    const owner = (id: string) => ownerOfSettings(this.store.get(id).state.settings);
    r.gauge('resident_sessions', 'Sessions by residency and owning tenant', () => sessionsByTenant(mem(), owner, this.metrics.tenantLabel));
    r.gauge('resident_kv_bytes', 'KV bytes held by resident sessions, by owning tenant', () => kvBytesByTenant(mem(), owner, this.metrics.tenantLabel));
    r.gauge('resident_kv_spare_bytes', 'KV bytes held by recycled spare slots kept for the next restore or fork', () => mem().spareBytes);
    r.gauge('resident_state_checkpoint_bytes', 'Recurrent-state checkpoint bytes kept by sessions (hybrid models)', () => mem().checkpointBytes);
    r.gauge('resident_kv_budget_bytes', 'KV byte budget of resident sessions', () => this.resolved!.kvBudgetBytes);
    r.gauge('resident_kv_slots_max', 'KV slots that may be resident at once', () => this.resolved!.slots);
    r.gauge('resident_chat_sessions', 'Anonymous chat-completion sessions kept for prefix reuse', () => this.chat.size);
    r.gauge('resident_http_requests_in_flight', 'HTTP requests being served', () => this.metrics.inFlight.value);
    r.gauge('resident_process_resident_memory_bytes', 'Resident set size of the process', () => process.memoryUsage().rss);
  }

  /** Stops the scheduler after snapshotting resident sessions, frees the engine. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    const p = this.parts;
    this.closed = true;
    this.activity.stop();
    if (!p) return;
    await p.store.close();
    p.scheduler.close();
    p.engine.dispose();
    await p.tokenizer.close();
  }
}
