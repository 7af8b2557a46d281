/**
 * The XML-like tool-call forms the grammar writes and reads are data owned by their tool-call format modules
 * (engine/tokens/tool-formats/); the grammar, the matcher and the call reader take a dialect as a parameter.
 * Qwen's form is the default of the helpers that predate the others.
 */
export type { XmlDialect } from '../../tokens/tool-formats/xml-dialect.js';
export { QWEN_XML } from '../../tokens/tool-formats/qwen-xml.js';
