/**
 * JSON Schema of `POST /v1/messages` and `/v1/messages/count_tokens` (Anthropic), checked with ajv
 * so a wrong type names its field. Block-level rules (which blocks a role may carry, tool results
 * answering tool uses) are checked in input.ts. Unknown top-level fields are accepted.
 */
const block = { type: 'object', required: ['type'], properties: { type: { type: 'string' } } };

const message = {
  type: 'object',
  required: ['role', 'content'],
  properties: {
    role: { enum: ['user', 'assistant'] },
    content: { type: ['string', 'array'], items: block },
  },
};

const tool = {
  type: 'object',
  required: ['name'],
  properties: {
    type: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    input_schema: { type: 'object' },
  },
};

const common = {
  model: { type: 'string' },
  messages: { type: 'array', minItems: 1, items: message },
  system: { type: ['string', 'array'], items: { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: { type: 'string' } } } },
  tools: { type: 'array', items: tool, maxItems: 512 },
  tool_choice: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['auto', 'any', 'tool', 'none'] }, name: { type: 'string' }, disable_parallel_tool_use: { type: 'boolean' } },
  },
  thinking: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['enabled', 'disabled', 'adaptive'] }, budget_tokens: { type: 'integer', minimum: 1 } },
  },
};

/** POST /v1/messages. */
export const messagesSchema = {
  type: 'object',
  required: ['model', 'max_tokens', 'messages'],
  properties: {
    ...common,
    max_tokens: { type: 'integer', minimum: 1 },
    stop_sequences: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 16 },
    stream: { type: 'boolean' },
    temperature: { type: 'number', minimum: 0, maximum: 1 },
    top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    top_k: { type: 'integer', minimum: 0 },
    metadata: { type: 'object' },
    seed: { type: 'integer' },
  },
};

/** POST /v1/messages/count_tokens. */
export const countTokensSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: common,
};
