/**
 * JSON Schemas of request bodies (ajv, draft-07). They check shapes and ranges so that every wrong
 * type names its field; rules that span fields (tool messages answer earlier calls, n = 1…) are in
 * request-checks.ts. Unknown top-level fields of chat completions are accepted (OpenAI clients send
 * many optional ones); unknown fields inside our own session API bodies are refused.
 */

const nullable = (t: string | string[]) => ({ type: [...(Array.isArray(t) ? t : [t]), 'null'] });

const contentPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string' }, text: { type: 'string' } },
};

const toolCall = {
  type: 'object',
  required: ['function'],
  properties: {
    id: { type: 'string' },
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name', 'arguments'],
      properties: { name: { type: 'string', minLength: 1 }, arguments: { type: ['string', 'object'] } },
    },
  },
};

/** One chat message (role-specific rules are checked in code). */
export const messageSchema = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
    content: { type: ['string', 'array', 'null'], items: contentPart },
    name: { type: 'string' },
    tool_calls: { ...nullable('array'), items: toolCall },
    tool_call_id: { type: 'string' },
    reasoning_content: nullable('string'),
  },
};

export const toolSchema = {
  type: 'object',
  required: ['type', 'function'],
  properties: {
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_.:-]{1,64}$' },
        description: { type: 'string' },
        parameters: { type: ['object', 'boolean'] },
        strict: nullable('boolean'),
      },
    },
  },
};

const responseFormat = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['text', 'json_object', 'json_schema'] },
    json_schema: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: { type: 'string' },
        schema: { type: ['object', 'boolean'] },
        strict: nullable('boolean'),
      },
    },
  },
};

/** Sampling and generation fields shared by chat completions and session generate. */
const generation = {
  max_tokens: { ...nullable('integer'), minimum: 1 },
  max_completion_tokens: { ...nullable('integer'), minimum: 1 },
  temperature: { ...nullable('number'), minimum: 0, maximum: 2 },
  top_p: { ...nullable('number'), exclusiveMinimum: 0, maximum: 1 },
  top_k: { ...nullable('integer'), minimum: -1 },
  min_p: { ...nullable('number'), minimum: 0, maximum: 1 },
  presence_penalty: { ...nullable('number'), minimum: -2, maximum: 2 },
  frequency_penalty: { ...nullable('number'), minimum: -2, maximum: 2 },
  repetition_penalty: { ...nullable('number'), exclusiveMinimum: 0, maximum: 10 },
  seed: { ...nullable('integer'), minimum: -(2 ** 53 - 1), maximum: 2 ** 53 - 1 },
  stop: { type: ['string', 'array', 'null'], items: { type: 'string', minLength: 1 }, maxItems: 16 },
  tool_choice: { type: ['string', 'object'] },
  parallel_tool_calls: nullable('boolean'),
  response_format: responseFormat,
  stream: nullable('boolean'),
  stream_options: { ...nullable('object'), properties: { include_usage: { type: 'boolean' } } },
  chat_template_kwargs: nullable('object'),
  // room for a ban list of a real vocabulary's tokens that are not whole characters (1,457 in Qwen3's)
  logit_bias: { ...nullable('object'), maxProperties: 4096 },
  enable_thinking: nullable('boolean'),
  reasoning_effort: { enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', null] },
} as const;

/** POST /v1/chat/completions. */
export const chatCompletionSchema = {
  type: 'object',
  required: ['messages'],
  properties: {
    model: { type: 'string' },
    messages: { type: 'array', minItems: 1, items: messageSchema },
    tools: { ...nullable('array'), items: toolSchema, maxItems: 512 },
    n: { ...nullable('integer') },
    logprobs: nullable('boolean'),
    top_logprobs: nullable('integer'),
    user: { type: 'string' },
    session_id: { type: 'string', minLength: 1 },
    ...generation,
  },
};

/** POST /v1/sessions. */
export const createSessionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[\\w.:@-]{1,128}$' },
    messages: { type: 'array', items: messageSchema },
    tools: { type: 'array', items: toolSchema, maxItems: 512 },
    chat_template_kwargs: { type: 'object' },
    pinned: { type: 'boolean' },
  },
};

/** POST /v1/sessions/:id/messages: messages or a raw document, not both. */
export const appendSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    messages: { type: 'array', minItems: 1, items: messageSchema },
    document: { type: 'string', minLength: 1 },
  },
};

/** POST /v1/sessions/:id/generate. */
export const generateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    messages: { type: 'array', items: messageSchema },
    ...generation,
  },
};

/** POST /v1/sessions/:id/fork. */
export const forkSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { message: { type: 'integer', minimum: 0 }, name: { type: 'string', pattern: '^[\\w.:@-]{1,128}$' } },
};

/** POST /v1/sessions/:id/rollback. */
export const rollbackSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['message'],
  properties: { message: { type: 'integer', minimum: 0 } },
};

/** POST /v1/sessions/:id/edit. */
export const editSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['message', 'replacement'],
  properties: { message: { type: 'integer', minimum: 0 }, replacement: messageSchema },
};
