/**
 * Reads a Python literal (what `ast.literal_eval` accepts for data: str, int, float, True/False/None,
 * list, tuple, dict) into a JSON value. Models trained on Python-rendered templates sometimes write
 * `{'k': True}` where JSON was expected; Qwen's own tool parser falls back to `ast.literal_eval`.
 */

/** The value, or undefined when `text` is not a data literal. */
export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new SyntaxError('not a literal');
  };
  const str = (): string => {
    const q = text[i++]!;
    let out = '';
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i++]!;
      if (c === q) return out;
      if (c === '\n') fail();
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = text.slice(i, i + n);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) fail();
        out += String.fromCodePoint(parseInt(hex, 16));
        i += n;
      } else fail();
    }
  };
  const seq = (close: string, item: () => void) => {
    i++;
    ws();
    while (text[i] !== close) {
      item();
      ws();
      if (text[i] === ',') i++, ws();
      else if (text[i] !== close) fail();
    }
    i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') return str();
    if (c === '[' || c === '(') {
      const out: unknown[] = [];
      seq(c === '[' ? ']' : ')', () => out.push(value()));
      return out;
    }
    if (c === '{') {
      const out: Record<string, unknown> = {};
      seq('}', () => {
        const k = value();
        ws();
        if (text[i++] !== ':' || (typeof k !== 'string' && typeof k !== 'number')) fail();
        out[String(k)] = value();
      });
      return out;
    }
    const m = /^(True|False|None|[+-]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!m) return fail();
    i += m[0].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    const n = Number(m[1]!.replace(/_/g, ''));
    return Number.isFinite(n) ? n : fail();
  };
  try {
    const v = value();
    ws();
    return i === text.length ? v : undefined;
  } catch {
    return undefined;
  }
}
