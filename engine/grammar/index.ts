/**
 * Grammar-constrained decoding from JSON Schema (issue 9). Public API:
 * - `loadGrammarVocab(tokenizerDir, modelVocabSize)` — token bytes, token trie, shared sets.
 * - `createSchemaMatcher(schema, vocab)` — one JSON value of a schema, then a stop token.
 * - `createToolCallConstraint({tools, toolChoice, parallelToolCalls, thinking, startInReasoning, responseFormat, format}, vocab)`
 *   — Qwen `<tool_call>` framing (or a JSON answer for response_format); call bodies in Qwen3's
 *   JSON form (`format: 'json'`, default) or the XML form of Qwen3.5 / 3.6 and Qwen3-Coder
 *   (`format: 'xml'`: `<function=…><parameter=…>`).
 * - `readXmlCall(body, tools)` / `checkXmlCall(body, tools)` — an XML call body read back into
 *   `{name, arguments}` by the grammar's own rule (`xmlTool(tool).classOf(param)`: raw text for
 *   string parameters, JSON otherwise), and validated with ajv; `xmlValueTyper(tools)` is that rule
 *   for the streaming parser (engine/tokens' `ToolCallParserOptions.xmlValues`).
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
  type CallFormat, type ResponseFormat, type ToolCallOptions, type ToolChoice, type ToolSpec,
} from './tool-call/tool-call.js';
export { checkXmlCall, readXmlCall, splitXmlCall, xmlValueTyper, type XmlCallRead } from './tool-call/xml-call.js';
export { xmlTool, type XmlTool } from './tool-call/xml-args.js';
export { readXmlValue, type ParamClass } from './tool-call/xml-values.js';
export { outputValidation, validateOutput, type OutputCheck } from './schema/validate-output.js';
