/**
 * Where an agent's tools come from: the built-ins (`fetch_url`, file tools confined to a workspace
 * folder), the MCP servers of the host's `--mcp-config` (one `McpClientPool`, connected on first
 * use), and the skills catalog (`activate_skill`, `read_skill_file`). A run picks sources with
 * selectors and gets its own `ToolRegistry` (validation, timeouts, result caps).
 */
import type { SkillsCatalog } from '../../skills/index.js';
import { createBuiltinTools, McpClientPool, ToolRegistry, type McpConfig, type Tool } from '../../tools/index.js';
import { AgentRequestError } from './errors.js';

/** Server-side settings of the agent's tools (never taken from a request). */
export interface AgentToolsConfig {
  /** Folder the file tools (`read_file`, `list_files`, `write_file`) are confined to; unset = no file tools. */
  workspace?: string;
  /** Non-public hosts, addresses or CIDRs `fetch_url` may reach (e.g. `127.0.0.1` for a local document server). */
  fetchAllow?: string[];
  /** Let `fetch_url` reach every non-public address (default false). */
  fetchAllowPrivate?: boolean;
  /** Timeout of tools without their own (default 30 000 ms). */
  toolTimeoutMs?: number;
  /** Tool results longer than this are cut with a note (default 16 000 characters). */
  maxResultChars?: number;
  /** Tool calls of one step run at once (default 4). */
  concurrency?: number;
}

/** Reads the agent tool settings from the environment: RESIDENT_WORKSPACE, RESIDENT_FETCH_ALLOW (comma-separated). */
export function agentToolsConfigFromEnv(env: Record<string, string | undefined> = process.env): AgentToolsConfig {
  const allow = (env.RESIDENT_FETCH_ALLOW ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { ...(env.RESIDENT_WORKSPACE ? { workspace: env.RESIDENT_WORKSPACE } : {}), ...(allow.length ? { fetchAllow: allow } : {}) };
}

/** One selectable group of tools. */
export interface ToolSourceInfo {
  selector: string;
  tools: string[];
  /** Why the source has no tools (e.g. an MCP server that failed to connect). */
  note?: string;
}

export class ToolSources {
  private builtins?: Promise<Tool[]>;
  private pool?: Promise<McpClientPool | undefined>;
  readonly warnings: string[] = [];

  constructor(
    readonly config: AgentToolsConfig,
    private readonly mcp: McpConfig | undefined,
    private readonly skills: SkillsCatalog | undefined,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** fetch_url, plus the file tools when a workspace is set (a workspace that cannot be opened is a warning, not a failure). */
  private builtinTools(): Promise<Tool[]> {
    this.builtins ??= (async () => {
      const tools = await createBuiltinTools({ fetch: { allow: this.config.fetchAllow, allowPrivate: this.config.fetchAllowPrivate } });
      if (this.config.workspace) {
        try {
          tools.push(...(await createBuiltinTools({ files: { root: this.config.workspace } })));
        } catch (e) {
          this.note(`file tools disabled: workspace ${this.config.workspace}: ${(e as Error).message}`);
        }
      }
      return tools;
    })();
    return this.builtins;
  }

  /** The MCP pool (connected once; servers that fail are retried when a run selects them). */
  private mcpPool(): Promise<McpClientPool | undefined> {
    if (!this.mcp) return Promise.resolve(undefined);
    this.pool ??= McpClientPool.connect(this.mcp).then((p) => {
      for (const w of p.warnings) this.note(w);
      return p;
    });
    return this.pool;
  }

  private note(w: string): void {
    this.warnings.push(w);
    this.log(`warning: agent tools: ${w}`);
  }

  /** Every source and its tools (connects MCP servers on first call). */
  async list(): Promise<ToolSourceInfo[]> {
    const out: ToolSourceInfo[] = [];
    const b = await this.builtinTools();
    out.push({ selector: 'fetch_url', tools: b.filter((t) => t.name === 'fetch_url').map((t) => t.name) });
    const files = b.filter((t) => t.name !== 'fetch_url').map((t) => t.name);
    out.push({ selector: 'files', tools: files, ...(files.length ? {} : { note: this.config.workspace ? `workspace ${this.config.workspace} unusable` : 'no workspace folder configured' }) });
    const pool = await this.mcpPool();
    for (const c of pool?.connections ?? []) {
      if (c.state !== 'connected') await c.connect().catch(() => undefined);
      out.push({ selector: `mcp:${c.name}`, tools: c.tools().map((t) => t.name), ...(c.state === 'connected' ? {} : { note: c.lastError ?? c.state }) });
    }
    out.push({ selector: 'skills', tools: (this.skills?.tools() ?? []).map((t) => t.name), ...(this.skills ? {} : { note: 'no skills folder configured' }) });
    return out;
  }

  /**
   * A registry holding the selected sources' tools. `selectors` undefined = every source;
   * `names` (if given) keeps only those tools, in that order. Throws AgentRequestError for an unknown selector.
   */
  async registry(selectors: readonly string[] | undefined, names?: readonly string[]): Promise<ToolRegistry> {
    const reg = new ToolRegistry({ defaultTimeoutMs: this.config.toolTimeoutMs, maxResultChars: this.config.maxResultChars, concurrency: this.config.concurrency });
    const pool = await this.mcpPool();
    const known = ['builtin', 'fetch_url', 'files', 'mcp', 'skills', ...(pool?.connections ?? []).map((c) => `mcp:${c.name}`)];
    const sel = new Set(selectors ?? ['builtin', 'mcp', 'skills']);
    for (const s of sel) {
      if (!known.includes(s)) throw new AgentRequestError(`unknown tool source '${s}'; available: ${known.join(', ')}`, 'tool_sources');
    }
    const builtins = await this.builtinTools();
    const picked: Tool[] = [];
    if (sel.has('builtin') || sel.has('fetch_url')) picked.push(...builtins.filter((t) => t.name === 'fetch_url'));
    if (sel.has('builtin') || sel.has('files')) picked.push(...builtins.filter((t) => t.name !== 'fetch_url'));
    for (const c of pool?.connections ?? []) {
      if (!sel.has('mcp') && !sel.has(`mcp:${c.name}`)) continue;
      if (c.state !== 'connected' && c.tools().length === 0) {
        await c.connect().catch((e: Error) => this.note(e.message));
      }
      picked.push(...c.tools());
    }
    if (sel.has('skills')) picked.push(...(this.skills?.tools() ?? []));
    const chosen = names ? names.map((n) => picked.find((t) => t.name === n)).filter((t): t is Tool => !!t) : picked;
    reg.add(...chosen);
    for (const w of reg.warnings) this.note(w);
    return reg;
  }

  /** The catalog text for a new session's system prompt ('' without skills). */
  skillsCatalogText(): string {
    return this.skills?.catalogText() ?? '';
  }

  /** Closes MCP connections. */
  async close(): Promise<void> {
    const p = await this.pool?.catch(() => undefined);
    await p?.close();
  }
}
