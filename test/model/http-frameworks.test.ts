/**
 * The frameworks agents are built with, unmodified, against the in-process server: the Vercel AI
 * SDK's default OpenAI provider (Responses API) and its Anthropic provider with generateText /
 * streamText and executed tools (two steps: call, result, answer), and LangChain's
 * ChatOpenAI({ useResponsesApi: true }) and ChatAnthropic with bindTools and a tool-result turn.
 * Greedy decoding (temperature 0) makes streamed and non-streamed runs comparable: same calls.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool, type LanguageModel } from 'ai';
import { describe, expect, it } from 'vitest';
import { serverFixture, testAjv, WEATHER_TOOLS } from './http-support.js';

const f = serverFixture();
const ADD = WEATHER_TOOLS[1]!.function;
const checkAdd = testAjv.compile(ADD.parameters);

/** The add tool, executed locally; records the inputs it was called with. */
function addTool(calls: unknown[]) {
  return tool({
    description: ADD.description,
    inputSchema: jsonSchema<{ a: number; b: number }>(ADD.parameters as never),
    execute: async (input) => {
      calls.push(input);
      return String(input.a + input.b);
    },
  });
}

/** generateText and streamText over two steps (a forced add call, then an answer) agree. */
async function twoSteps(model: LanguageModel) {
  const providerOptions = { anthropic: { disableParallelToolUse: true }, openai: { parallelToolCalls: false } };
  const run = { model, prompt: 'Add 2 and 3.', temperature: 0, maxOutputTokens: 80, providerOptions, stopWhen: stepCountIs(2), prepareStep: ({ stepNumber }: { stepNumber: number }) => (stepNumber === 0 ? { toolChoice: { type: 'tool' as const, toolName: 'add' as const } } : { toolChoice: 'none' as const }) };
  const executed: unknown[] = [];
  const g = await generateText({ ...run, tools: { add: addTool(executed) } });
  expect(g.steps, JSON.stringify(g.steps.map((st) => [st.finishReason, st.content]))).toHaveLength(2);
  const call = g.steps[0]!.toolCalls[0]!;
  expect(call.toolName).toBe('add');
  expect(checkAdd(call.input), JSON.stringify(call.input)).toBe(true);
  expect(executed).toEqual([call.input]);
  expect(g.steps[1]!.toolCalls).toHaveLength(0);
  const streamed: unknown[] = [];
  const s = streamText({ ...run, tools: { add: addTool(streamed) } });
  const parts: string[] = [];
  for await (const p of s.fullStream) parts.push(p.type);
  expect(parts).toContain('tool-call');
  expect(parts).toContain('tool-result');
  const steps = await s.steps;
  expect(steps.map((st) => st.toolCalls.map((c) => [c.toolName, c.input]))).toEqual(g.steps.map((st) => st.toolCalls.map((c) => [c.toolName, c.input])));
  // The answers' text is not compared: the second run reuses the first run's K/V and recomputes
  // only the generation prompt, and the random tiny model's near-tied logits flip under that.
  expect(steps[1]!.toolCalls).toHaveLength(0);
  return g;
}

describe('Vercel AI SDK', () => {
  it('the default openai(model) provider (Responses API): generateText / streamText with an executed tool', { timeout: 120_000 }, async () => {
    const openai = createOpenAI({ baseURL: `${f.srv!.url}/v1`, apiKey: 'unused' });
    const g = await twoSteps(openai(f.model));
    expect(g.response.id).toMatch(/^resp_/);
    // Step 2 resends the conversation (store: true, no previous_response_id): the stored session is continued.
    const body = g.steps[1]!.response.body as { usage: { input_tokens: number }; x_resident: { prefilled_tokens: number } };
    expect(body.x_resident.prefilled_tokens).toBeLessThan(body.usage.input_tokens / 2);
  });

  it('@ai-sdk/anthropic: generateText / streamText with an executed tool', { timeout: 120_000 }, async () => {
    const anthropic = createAnthropic({ baseURL: `${f.srv!.url}/v1`, apiKey: 'unused' });
    const g = await twoSteps(anthropic(f.model));
    expect(g.response.id).toMatch(/^msg_/);
    const body = g.steps[1]!.response.body as { usage: { input_tokens: number; cache_read_input_tokens: number } };
    expect(body.usage.input_tokens).toBeLessThan(body.usage.cache_read_input_tokens); // the resent history was reused
  });
});

describe('LangChain', () => {
  const addSpec = { type: 'function' as const, function: { name: ADD.name, description: ADD.description!, parameters: ADD.parameters } };

  it('ChatOpenAI({ useResponsesApi: true }) with bindTools, then a tool-result turn', { timeout: 120_000 }, async () => {
    const llm = new ChatOpenAI({ model: f.model, apiKey: 'unused', configuration: { baseURL: `${f.srv!.url}/v1` }, useResponsesApi: true, temperature: 0, maxTokens: 60 });
    const question = new HumanMessage('Add 2 and 3.');
    const ai = await llm.bindTools([addSpec], { tool_choice: 'add' }).invoke([question]);
    expect(ai.tool_calls?.[0]?.name).toBe('add');
    const args = ai.tool_calls![0]!.args;
    expect(checkAdd(args), JSON.stringify(args)).toBe(true);
    const streamed = await llm.bindTools([addSpec], { tool_choice: 'add' }).stream([question]);
    let merged: AIMessage | undefined;
    for await (const chunk of streamed) merged = merged ? (merged as never as { concat(c: unknown): AIMessage }).concat(chunk) : (chunk as never as AIMessage);
    expect(merged!.tool_calls?.map((c) => [c.name, c.args])).toEqual([['add', args]]);
    const answer = await llm.bindTools([addSpec], { tool_choice: 'none' }).invoke([question, ai, new ToolMessage({ tool_call_id: ai.tool_calls![0]!.id!, content: String(Number(args.a) + Number(args.b)) })]);
    expect(answer.tool_calls ?? []).toHaveLength(0);
    expect(typeof answer.content === 'string' || Array.isArray(answer.content)).toBe(true);
  });

  it('ChatAnthropic with bindTools, then a tool-result turn', { timeout: 120_000 }, async () => {
    const llm = new ChatAnthropic({ model: f.model, apiKey: 'unused', anthropicApiUrl: f.srv!.url, temperature: 0, maxTokens: 60 });
    const question = new HumanMessage('Add 2 and 3.');
    const ai = await llm.bindTools([addSpec], { tool_choice: 'add' }).invoke([question]);
    expect(ai.tool_calls?.[0]?.name).toBe('add');
    const args = ai.tool_calls![0]!.args;
    expect(checkAdd(args), JSON.stringify(args)).toBe(true);
    const answer = await llm.bindTools([addSpec], { tool_choice: 'none' }).invoke([question, ai, new ToolMessage({ tool_call_id: ai.tool_calls![0]!.id!, content: String(Number(args.a) + Number(args.b)) })]);
    expect(answer.tool_calls ?? []).toHaveLength(0);
  });
});
