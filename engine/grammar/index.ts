/**
 * Grammar-constrained decoding from JSON Schema (issue 9). Public API:
 * - `loadGrammarVocab(tokenizerDir, modelVocabSize)` — token bytes, token trie, shared sets.
 * - `createSchemaMatcher(schema, vocab)` — one JSON value of a schema, then a stop token.
 * - `createToolCallConstraint({tools, toolChoice, parallelToolCalls, thinking, responseFormat}, vocab)`
 *   — Qwen3 `<tool_call>` framing (or a JSON answer for response_format).
 * - Both return a `TokenConstraint`: `mask()` (sync, pure), `accept`, `rollback`, `isComplete`,
 *   `isTerminated`, `forcedBytes`/`forcedTokens` (fast-forward).
 * - `compileSchema(schema)` — throws `SchemaCompileError {keyword, path}` for what it refuses.
 * - `validateOutput(schema, text)` — ajv backstop with process-wide counters `outputValidation`.
 */
export { GrammarError, GrammarStateError, RegexCompileError, SchemaCompileError } from './errors.js';
export { compileSchema, type CompiledSchema } from './schema/schema-compiler.js';
export { GrammarVocab, hasToken, loadGrammarVocab } from './mask/vocab.js';
export { createSchemaMatcher, Grammar, GrammarMatcher, schemaGrammar, type MatcherOptions, type TokenConstraint } from './mask/matcher.js';
export {
  createToolCallConstraint, ToolConstraintError,
  type ResponseFormat, type ToolCallOptions, type ToolChoice, type ToolSpec,
} from './tool-call/tool-call.js';
export { outputValidation, validateOutput, type OutputCheck } from './schema/validate-output.js';
