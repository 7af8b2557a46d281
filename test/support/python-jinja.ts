/**
 * Python's jinja2 as an oracle for chat-template rendering, set up as transformers'
 * `apply_chat_template` does: sandboxed environment with trim_blocks and lstrip_blocks, the loopcontrols
 * extension, `tojson` = `json.dumps(ensure_ascii=False)`, `raise_exception`. Optional: tests that use it
 * skip with {@link PYTHON_JINJA_MISSING} when python3 or jinja2 is absent.
 */
import { spawnSync } from 'node:child_process';

const SCRIPT = `
import json, sys
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

req = json.load(sys.stdin)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
template = env.from_string(req["source"])
out = []
for ctx in req["contexts"]:
    try:
        out.append({"text": template.render(**ctx)})
    except Exception as e:
        out.append({"error": str(e)})
sys.stdout.write(json.dumps(out))
`;

function probe(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import jinja2'], { encoding: 'utf8' });
  if (r.error) return `python3 is not available (${r.error.message})`;
  if (r.status !== 0) return `python3 has no jinja2 module (${r.stderr.trim().split('\n').pop()})`;
  return undefined;
}

/** Why the oracle cannot run here, or undefined when it can. */
export const PYTHON_JINJA_MISSING: string | undefined = probe();

/** One render's outcome: the text, or the template's error message. */
export type PythonRender = { text: string } | { error: string };

/** Renders `source` once per context (the variables a template sees) with Python's jinja2. */
export function renderWithPython(source: string, contexts: readonly Record<string, unknown>[]): PythonRender[] {
  const r = spawnSync('python3', ['-c', SCRIPT], { input: JSON.stringify({ source, contexts }), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 jinja2 oracle failed: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as PythonRender[];
}
