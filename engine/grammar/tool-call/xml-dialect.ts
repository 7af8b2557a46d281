/**
 * The XML-like tool-call forms the grammar writes and reads, as data: Qwen3.5 / 3.6 / Qwen3-Coder
 *   `\n<function=NAME>\n` (`<parameter=KEY>\nVALUE\n</parameter>\n`)* `</function>\n`
 * and MiniMax-M2 (one `<invoke>` per call block)
 *   `\n<invoke name="NAME">\n` (`<parameter name="KEY">VALUE</parameter>\n`)* `</invoke>\n`.
 * A parameter is `paramHead(KEY)` (or `freeHead` + a freely typed KEY + the byte `nameEnd`), then `valueOpen`
 * VALUE `valueClose`. VALUE never contains `forbidden` text (it would end the value, the call or the block early).
 * A new XML-like family adds a dialect here; the grammar, the matcher and the call reader take it as a parameter.
 */

/** One XML-like call form. */
export interface XmlDialect {
  readonly name: 'qwen' | 'minimax';
  /** What opens a call of tool `name` (the start of the call body). */
  callHead(name: string): string;
  /** A named parameter's header, up to its value. */
  paramHead(key: string): string;
  /** Header of a freely typed parameter name (a prefix of every paramHead). */
  readonly freeHead: string;
  /** The byte that ends a freely typed name (so that freeHead + KEY + nameEnd = paramHead(KEY)). */
  readonly nameEnd: number;
  readonly valueOpen: string;
  readonly valueClose: string;
  /** What ends the parameters (and the call body). */
  readonly argsClose: string;
  readonly forbidden: readonly string[];
  /** Reading a body back: the call's head, a parameter's head, the end of the body. */
  readonly readCall: RegExp;
  readonly readParam: RegExp;
  readonly readEnd: RegExp;
  /** The reader drops one newline after the parameter head and before `</parameter>` (valueOpen / valueClose). */
  readonly valueNewlines: boolean;
}

export const QWEN_XML: XmlDialect = {
  name: 'qwen',
  callHead: (name) => `\n<function=${name}>\n`,
  paramHead: (key) => `<parameter=${key}>`,
  freeHead: '<parameter=',
  nameEnd: 0x3e, // '>'
  valueOpen: '\n',
  valueClose: '\n</parameter>\n',
  argsClose: '</function>\n',
  forbidden: ['</parameter>', '<parameter=', '</function>', '</tool_call>'],
  readCall: /^\s*<function=([^>\n]+)>\n?/,
  readParam: /^\s*<parameter=([^>\n]+)>\n?/,
  readEnd: /^\s*<\/function>\s*$/,
  valueNewlines: true,
};

export const MINIMAX_XML: XmlDialect = {
  name: 'minimax',
  callHead: (name) => `\n<invoke name="${name}">\n`,
  paramHead: (key) => `<parameter name="${key}"`,
  freeHead: '<parameter name="',
  nameEnd: 0x22, // '"'
  valueOpen: '>',
  valueClose: '</parameter>\n',
  argsClose: '</invoke>\n',
  forbidden: ['</parameter>', '<parameter name=', '</invoke>', '<invoke name=', '</minimax:tool_call>'],
  readCall: /^\s*<invoke name="([^"\n]+)">/,
  readParam: /^\s*<parameter name="([^"\n]+)">/,
  readEnd: /^\s*<\/invoke>\s*$/,
  valueNewlines: false,
};
