/**
 * The Anthropic Messages API: `POST /v1/messages` runs one turn through the chat layer's
 * stateless service (ChatService: clients resend whole histories, the longest stored prefix is
 * reused) and answers as Anthropic does, whole or streamed; `POST /v1/messages/count_tokens`
 * counts the prompt as the template renders it. Errors take Anthropic's shape (errors.ts, app.ts).
 */
import { InvariantError } from '../../../engine/util/resident-error.js';
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import type { TurnOptions } from '../../chat/types.js';
import type { Host } from '../../host/host.js';
import { getTenant } from '../tenant-auth.js';
import { requestSignal } from '../completion-response.js';
import { badRequest, toErrorResponse } from '../errors.js';
import { servedModel } from '../model-names.js';
import { checkMessages, checkTools } from '../request-checks.js';
import { sseResponse } from '../sse-stream.js';
import { readJson, validator } from '../validate.js';
import { anthropicErrorBody } from './errors.js';
import { chatMessagesOf, thinkingOf, toolChoiceOf, toolsOf, type MessagesInput } from './input.js';
import { MessageBuilder } from './output.js';
import { countTokensSchema, messagesSchema } from './schema.js';

interface MessagesBody extends MessagesInput {
  model: string;
  max_tokens: number;
  stop_sequences?: string[];
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  mcp_servers?: unknown;
}

const checkBody = validator<MessagesBody>(messagesSchema);
const checkCount = validator<MessagesInput & { model: string }>(countTokensSchema);
const toolUseId = () => `toolu_${randomBytes(12).toString('hex')}`;

/** Chat messages and tools of a request, checked as chat completions checks them. */
function conversationOf(b: MessagesInput) {
  const tools = toolsOf(b.tools);
  checkTools(tools);
  const messages = chatMessagesOf(b);
  checkMessages(messages, tools);
  return { messages, tools };
}

export function registerMessagesRoutes(app: Hono, host: Host): void {
  app.post('/v1/messages', async (c) => {
    const b = checkBody(await readJson(c.req.raw));
    if (Array.isArray(b.mcp_servers) && b.mcp_servers.length) throw badRequest("'mcp_servers' (the hosted MCP connector) is not supported: declare the tools and run them yourself, or use Resident's agent API", 'mcp_servers');
    const model = servedModel(host, b.model);
    const { messages, tools } = conversationOf(b);
    const ac = new AbortController();
    const opts: TurnOptions = {
      ...toolChoiceOf(b.tool_choice), maxTokens: b.max_tokens, stop: b.stop_sequences, enableThinking: thinkingOf(b.thinking),
      sampling: { temperature: b.temperature, topP: b.top_p, topK: b.top_k, seed: b.seed }, signal: requestSignal(c, ac), idFactory: toolUseId,
    };
    const events = host.chat.complete({ messages, tools, tenant: getTenant(c) }, opts);
    const first = await events.next(); // request errors surface here, before any byte
    if (first.done || first.value.type !== 'start') throw new InvariantError('turn ended before it started');
    const start = first.value;
    const run = async (builder: MessageBuilder) => {
      for await (const e of events) {
        if (e.type === 'finish') return builder.finish(e.result);
        builder.push(e);
      }
      throw new InvariantError('turn ended without a finish event');
    };
    if (b.stream !== true) return c.json(await run(new MessageBuilder(model, null)));
    return sseResponse(async (send) => {
      const builder = new MessageBuilder(model, send);
      builder.started(start);
      await run(builder);
    }, {
      onCancel: () => ac.abort(),
      onError: (e) => {
        const { status, body } = toErrorResponse(e);
        return ['error', anthropicErrorBody(status, body.error.message, body.error.code)];
      },
    });
  });

  app.post('/v1/messages/count_tokens', async (c) => {
    const b = checkCount(await readJson(c.req.raw));
    servedModel(host, b.model);
    const { messages, tools } = conversationOf(b);
    const p = host.protocol;
    const a = await p.appendAsync('empty', messages, { tools, kwargs: {} });
    const gp = p.generationPrompt(a.tail, { tools, kwargs: {}, enableThinking: thinkingOf(b.thinking) });
    return c.json({ input_tokens: a.tokens.length + gp.tokens.length });
  });
}
