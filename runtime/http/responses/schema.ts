/**
 * JSON Schema of `POST /v1/responses` (ajv): field types and ranges, so a wrong type names its
 * field. Item shapes, tools, tool_choice and text.format are checked in input.ts with messages that
 * say what is supported. Unknown top-level fields are accepted (clients send many optional ones).
 */
const nullable = (t: string | string[]) => ({ type: [...(Array.isArray(t) ? t : [t]), 'null'] });

/** POST /v1/responses. */
export const responsesSchema = {
  type: 'object',
  required: ['input'],
  properties: {
    model: { type: 'string' },
    input: { type: ['string', 'array'], items: { type: 'object' }, minLength: 1, minItems: 1 },
    instructions: nullable('string'),
    previous_response_id: { ...nullable('string'), pattern: '^resp_[A-Za-z0-9]{1,64}$' },
    store: nullable('boolean'),
    stream: nullable('boolean'),
    background: nullable('boolean'),
    tools: { ...nullable('array'), items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } }, maxItems: 512 },
    tool_choice: { type: ['string', 'object', 'null'] },
    parallel_tool_calls: nullable('boolean'),
    text: nullable('object'),
    reasoning: { ...nullable('object'), properties: { effort: { enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', null] } } },
    max_output_tokens: { ...nullable('integer'), minimum: 1 },
    temperature: { ...nullable('number'), minimum: 0, maximum: 2 },
    top_p: { ...nullable('number'), exclusiveMinimum: 0, maximum: 1 },
    top_k: { ...nullable('integer'), minimum: -1 },
    seed: { ...nullable('integer'), minimum: -(2 ** 53 - 1), maximum: 2 ** 53 - 1 },
    metadata: { ...nullable('object'), maxProperties: 16 },
    truncation: { enum: ['auto', 'disabled', null] },
    conversation: {},
    prompt: {},
    stream_options: nullable('object'),
  },
};

/** Query of GET /v1/responses/{id}/input_items. */
export interface InputItemsQuery {
  limit?: string;
  order?: string;
  after?: string;
}
