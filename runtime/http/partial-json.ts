/**
 * The value a cut JSON text stands for so far (a tool call cut by max_tokens), as streaming
 * clients' partial-JSON parsers read it: an unterminated string (and its key), an incomplete key
 * or literal are dropped, open objects and arrays are closed. Undefined when nothing parses.
 */
export function parsePartialJson(text: string): unknown {
  for (let cut = text.length; cut >= 0; cut--) {
    const v = tryClose(text.slice(0, cut));
    if (v !== undefined) return v;
  }
  return undefined;
}

function tryClose(s: string): unknown {
  const stack: string[] = [];
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') stack.push('}');
    else if (ch === '[') stack.push(']');
    else if (ch === '}' || ch === ']') stack.pop();
  }
  if (inString) return undefined;
  const t = s.replace(/[\s,:]+$/, '');
  try {
    return JSON.parse(t + stack.reverse().join(''));
  } catch {
    return undefined;
  }
}
