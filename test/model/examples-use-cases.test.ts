/**
 * The four use-case examples, each run as its own process (`node --import tsx examples/<name>/main.ts
 * --url … --api-key …`) against a server started here on port 0 with the tiny model. The model's
 * text is gibberish (random weights); what is checked is the mechanics each example reports: tool
 * calls that validate, KV reuse per edit, forks that share the base, a run resumed after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { REPO, removeDir, skipReason, startTestServer, tinyTokenizer, type TestServer } from '../fixtures/agent/harness.js';
import { QUESTIONS } from '../../examples/rag-inject/documents.js';

const KEY = 'examples-key';
let srv: TestServer | undefined;
const serverOptions = (dataDir?: string, port?: number) => ({
  config: { apiKey: KEY, mcpConfig: `${REPO}examples/computer-use-mcp/mcp.json` },
  agent: { fetchAllow: ['127.0.0.1'] },
  dataDir,
  port,
});

beforeAll(async () => {
  await skipReason(); // throws with the reason when the model or engine is missing
  srv = await startTestServer(serverOptions());
});

afterAll(async () => {
  await srv?.close();
  if (srv) removeDir(srv.dataDir);
});

/** Runs an example; `onLine` sees stdout lines as they come. Resolves to exit code and output. */
function runExample(name: string, extra: string[] = [], onLine?: (line: string) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}/main.ts`, '--url', srv!.url, '--api-key', KEY, ...extra], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      partial += b.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) onLine?.(l);
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const num = (out: string, re: RegExp): number[] => [...out.matchAll(new RegExp(re.source, "g"))].map((m) => Number(m[1]));

describe('use-case examples', () => {
  it('computer-use-mcp: the agent drives the fake browser over HTTP and through agent_run on /mcp', async () => {
    const r = await runExample('computer-use-mcp', ['--steps', '1']);
    expect(r.err + r.out).not.toMatch(/Error:/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model calls browser__(open_page|click|type|read_screen)/);
    expect(r.out).toMatch(/tool calls: [1-9]\d* \(\d+ executed, 0 with invalid arguments\)/);
    expect(r.out).toMatch(/agent_run: (done|max_steps), [1-9]\d* steps/);
    expect(num(r.out, /(\d+) progress notifications/)[0]).toBeGreaterThan(2);
  });

  it('copilot-edits: an edit recomputes only the edited file and what follows it', async () => {
    const r = await runExample('copilot-edits');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [p1, p2] = num(r.out, /edit: .*?prefilled (\d+) tokens/g);
    const [u1] = num(r.out, /edit: .*?reused (\d+) of/g);
    expect(p1).toBeGreaterThan(0);
    expect(u1).toBeGreaterThan(p1!); // the last file's edit keeps everything before it
    expect(p2).toBeGreaterThan(p1!); // editing the first file recomputes it and the later files
    for (const [pre, reused] of [...r.out.matchAll(/completion \([^)]*\): prefilled (\d+), reused (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])])) {
      expect(pre).toBeLessThan(60); // the question and the generation prompt only
      expect(reused).toBeGreaterThan(200);
    }
  });

  it('rag-inject: every question runs on a fork that shares the documents', async () => {
    const r = await runExample('rag-inject');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const base = num(r.out, /documents, (\d+) tokens prefilled once/)[0]!;
    expect(base).toBeGreaterThan(200);
    const reused = num(r.out, /reused (\d+); \d+ generated/g);
    expect(reused).toHaveLength(4);
    for (const x of reused) expect(x).toBeGreaterThanOrEqual(base);
    // each answer prefills exactly its question's turn and the generation prompt (thinking off), nothing of the documents
    const tok = await tinyTokenizer();
    const turn = (q: string) => tok.encode(`<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`, { allowSpecial: true }).length;
    expect(num(r.out, /answer: prefilled (\d+) tokens/g)).toEqual(QUESTIONS.map(turn));
    expect(r.out).toMatch(/base session unchanged/);
  });

  it('deep-research: a fetch_url run survives a server restart and resumes from its session', async () => {
    let restarted: Promise<void> | undefined;
    const r = await runExample('deep-research', ['--interrupt', 'restart', '--steps', '2'], (line) => {
      if (line.startsWith('RESTART-NOW') && !restarted) {
        restarted = (async () => {
          const { dataDir, port } = srv!;
          await srv!.close();
          srv = await startTestServer(serverOptions(dataDir, port));
        })();
      }
    });
    await restarted;
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(restarted).toBeDefined();
    expect(r.out).toMatch(/run \S+ is 'interrupted' after [1-9] steps/);
    expect(r.out).toMatch(/== resumed from the persisted session ==/);
    expect(r.out).toMatch(/on session \S+ \(resumed\)/);
    expect(r.out).toMatch(/result: (done|max_steps) after [2-9] steps/);
    expect(r.out).toMatch(/model calls fetch_url/);
  });
});
