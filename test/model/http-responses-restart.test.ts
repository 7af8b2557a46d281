/**
 * A 20-turn previous_response_id chain against a real `resident serve` process: every turn
 * prefills exactly its new input plus the template's framing (counted with the model's own append
 * protocol), tool calls and function_call_output included; the server is killed with SIGKILL after
 * turn 10 and restarted on the same data directory, and the chain continues from the stored
 * response on the restored session with the same guarantee.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppendProtocol, type Tail } from '../../engine/tokens/append-protocol.js';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { WEATHER_TOOLS } from './http-support.js';

const BIN = fileURLToPath(new URL('../../bin/resident.js', import.meta.url));
const TOOLS = WEATHER_TOOLS.map((t) => ({ type: 'function' as const, name: t.function.name, description: t.function.description, parameters: t.function.parameters, strict: true }));

let modelDir = '';
let protocol: AppendProtocol;
const dataDir = mkdtempSync(join(tmpdir(), 'resident-resp-chain-'));
let child: ChildProcess | undefined;

beforeAll(async () => {
  // A missing model or engine fails the tests with its reason.
  const { ensureModel } = await import('../support/models.js');
  const { nativeBinding } = await import('../../engine/native.js');
  nativeBinding();
  modelDir = (await ensureModel('tiny', 'f32')).dir;
  protocol = new AppendProtocol(await loadTokenizer(modelDir), await ChatTemplate.fromDir(modelDir));
});
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `resident serve` on a free port; resolves with its base URL once it is ready. */
function serve(): Promise<string> {
  const p = spawn(process.execPath, [BIN, 'serve', '--model', modelDir, '--data', dataDir, '--port', '0', '--threads', '2', '--context', '4096', '--max-tokens', '32'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child = p;
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\/\/\S+)\/v1/.exec(err);
      if (m) resolve(m[1]!);
    });
    p.once('exit', (code) => reject(new Error(`resident serve exited with ${code}: ${err}`)));
  });
}

/** Tokens a turn appending `messages` after `tail` prefills (messages + generation prompt), with the tools' system prompt. */
function framed(tail: Tail, messages: ChatMessage[]): number {
  const a = protocol.append(tail, messages, { tools: WEATHER_TOOLS });
  return a.tokens.length + protocol.generationPrompt(a.tail, { tools: WEATHER_TOOLS, enableThinking: false }).tokens.length;
}

type Resp = OpenAI.Responses.Response & { x_resident: { session_id: string; prefilled_tokens: number } };

describe('responses: a 20-turn previous_response_id chain across kill -9', () => {
  it('prefills only each turn\'s new input, before and after a SIGKILL restart', { timeout: 240_000 }, async () => {
    let client = new OpenAI({ baseURL: `${await serve()}/v1`, apiKey: 'x', maxRetries: 0 });
    const instructions = 'You are a chain test bot.';
    let prev: Resp | undefined;
    let session = '';
    let toolResults = 0;
    for (let turn = 1; turn <= 20; turn++) {
      if (turn === 11) {
        child!.kill('SIGKILL');
        await new Promise((r) => child!.once('exit', r));
        client = new OpenAI({ baseURL: `${await serve()}/v1`, apiKey: 'x', maxRetries: 0 });
      }
      const call = prev?.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall | undefined;
      const input = call && prev!.status === 'completed'
        ? [{ type: 'function_call_output' as const, call_id: call.call_id, output: `result ${turn}` }]
        : `Question number ${turn}?`;
      const forceCall = turn % 3 === 0;
      const r = await client.responses.create({
        instructions, input, tools: TOOLS, previous_response_id: prev?.id,
        tool_choice: forceCall ? { type: 'function', name: 'add' } : 'none', parallel_tool_calls: false,
        max_output_tokens: forceCall ? 80 : 6, reasoning: { effort: 'none' }, seed: turn,
      } as never) as unknown as Resp;
      if (typeof input !== 'string') toolResults++;
      const messages: ChatMessage[] = typeof input === 'string' ? [{ role: 'user', content: input }] : [{ role: 'tool', tool_call_id: input[0]!.call_id, content: input[0]!.output }];
      const expected = turn === 1 ? r.usage!.input_tokens : framed('assistant', messages); // turn 1: everything is new
      expect(r.x_resident.prefilled_tokens, `turn ${turn}`).toBe(expected);
      expect(r.usage!.input_tokens_details.cached_tokens, `turn ${turn}`).toBe(r.usage!.input_tokens - expected);
      if (turn === 1) session = r.x_resident.session_id;
      expect(r.x_resident.session_id, `turn ${turn}`).toBe(session);
      prev = r;
    }
    expect(prev!.usage!.input_tokens).toBeGreaterThan(300);
    expect(toolResults, 'turns answering a function call').toBeGreaterThanOrEqual(3);
  });
});
