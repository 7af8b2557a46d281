/**
 * An XML-like tool-call form as data, owned by its format module (qwen-xml.ts, minimax.ts) and read by the grammar
 * (engine/grammar/tool-call/) and the call reader, which take it as a parameter:
 *   callHead(NAME) (paramHead(KEY) valueOpen VALUE valueClose)* argsClose
 * A parameter is `paramHead(KEY)` (or `freeHead` + a freely typed KEY + the byte `nameEnd`), then `valueOpen`
 * VALUE `valueClose`. VALUE never contains `forbidden` text (it would end the value, the call or the block early).
 */
export interface XmlDialect {
  readonly name: string;
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
