/**
 * JSON parsing that keeps number lexemes: test instances are re-serialized compactly with their
 * numbers exactly as written (`12345.0` stays `12345.0`, `9223372036854776001` is not rounded),
 * so the text fed to the matcher is the instance the validity label was computed for.
 */

/** A number as written in the source. */
export class RawNumber {
  constructor(readonly text: string) {}
}

/** Parses JSON; numbers become `RawNumber`. Throws SyntaxError on bad input. */
export function parseLossless(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new SyntaxError(`bad JSON at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: [string, unknown][] = [];
      ws();
      if (text[i] === '}') return i++, new Map(o);
      for (;;) {
        ws();
        const k = value();
        if (typeof k !== 'string') fail();
        ws();
        if (text[i++] !== ':') fail();
        o.push([k as string, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i++] === '}') return new Map(o);
        else fail();
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') return i++, a;
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i++] === ']') return a;
        else fail();
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/s.exec(text.slice(i));
      if (!m) fail();
      i += m![0].length;
      return JSON.parse(m![0]) as string;
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
    if (m![0] === 'true') return true;
    if (m![0] === 'false') return false;
    if (m![0] === 'null') return null;
    return new RawNumber(m![0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail();
  return v;
}

/** Compact serialization of a `parseLossless` value (objects are Maps, key order kept). */
export function stringifyLossless(v: unknown): string {
  if (v instanceof RawNumber) return v.text;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}:${stringifyLossless(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(stringifyLossless).join(',')}]`;
  return JSON.stringify(v);
}
