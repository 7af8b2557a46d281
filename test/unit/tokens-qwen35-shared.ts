// Shared fixtures of the Qwen3.5 tokens tests.
import type { ToolDefinition } from '../../engine/tokens/messages.js';

/** Two tools whose parameters cover strings, integers, booleans, arrays, nullable integers and objects. */
export const QWEN35_TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'write_file', description: 'Write a file.',
      parameters: {
        type: 'object',
        properties: { path: { type: 'string' }, content: { type: 'string' }, mode: { type: 'integer' }, append: { type: 'boolean' }, tags: { type: 'array', items: { type: 'string' } } },
        required: ['path', 'content'],
      },
    },
  },
  { type: 'function', function: { name: 'search', description: 'Search the web. Ünïcode ✅', parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: ['integer', 'null'] }, opts: { type: 'object' } }, required: ['query'] } } },
];
