/**
 * One Agent Skill: a folder with `SKILL.md` = YAML frontmatter (`name`, `description`, optional
 * `license`, `compatibility`, `metadata`, `allowed-tools`) + Markdown body, plus optional resource
 * files. Rules (agentskills.io): name 1–64 chars of `a-z0-9-`, no leading/trailing/double hyphen,
 * equal to the folder name; description non-empty, ≤ 1024 chars; compatibility ≤ 500 chars.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/** A loaded, valid skill. */
export interface Skill {
  name: string;
  description: string;
  /** Absolute folder of the skill. */
  dir: string;
  /** Absolute path of its SKILL.md. */
  file: string;
  /** Markdown body after the frontmatter, trimmed. */
  body: string;
  /** Resource files relative to `dir` (`/`-separated, sorted; SKILL.md, dotfiles and symlinks excluded). */
  resources: string[];
  license?: string;
  compatibility?: string;
  metadata?: Record<string, string>;
  allowedTools?: string;
}

/** A problem found while loading; `file` names the SKILL.md (or folder) concerned. */
export interface SkillWarning {
  file: string;
  message: string;
}

/** The name rule of the spec. */
export const SKILL_NAME_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;

const MAX_SKILL_FILE = 256 * 1024;
const MAX_RESOURCES = 200;
const KNOWN = new Set(['name', 'description', 'license', 'compatibility', 'metadata', 'allowed-tools']);

/** Result of parsing SKILL.md text: the skill fields or the reason it is invalid, plus warnings. */
export type ParsedSkill =
  | { ok: true; fields: Omit<Skill, 'dir' | 'file' | 'resources'>; warnings: string[] }
  | { ok: false; error: string };

/** Splits and validates SKILL.md text; `folderName` is the name the skill must carry. */
export function parseSkillMarkdown(text: string, folderName: string): ParsedSkill {
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const m = /^---\n([\s\S]*?)\n---[ \t]*(?:\n|$)([\s\S]*)$/.exec(src);
  if (!m) return { ok: false, error: 'SKILL.md must start with YAML frontmatter between "---" lines' };
  let fm: unknown;
  try {
    fm = parseYaml(m[1]!);
  } catch (err) {
    return { ok: false, error: `frontmatter is not valid YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof fm !== 'object' || fm === null || Array.isArray(fm)) return { ok: false, error: 'frontmatter must be a YAML mapping' };
  const f = fm as Record<string, unknown>;
  const warnings: string[] = [];

  const name = f.name;
  if (typeof name !== 'string' || name === '') return { ok: false, error: 'frontmatter field "name" is missing or not a string' };
  if (name.length > 64) return { ok: false, error: `name '${name}' is longer than 64 characters` };
  if (!SKILL_NAME_PATTERN.test(name)) {
    return { ok: false, error: `name '${name}' must use only lowercase letters, digits and single hyphens, not starting or ending with a hyphen` };
  }
  if (name !== folderName) return { ok: false, error: `name '${name}' does not match its folder name '${folderName}'` };

  const description = f.description;
  if (typeof description !== 'string' || description.trim() === '') {
    return { ok: false, error: 'frontmatter field "description" is missing or empty' };
  }
  if (description.length > 1024) return { ok: false, error: `description is ${description.length} characters; the limit is 1024` };

  const fields: Omit<Skill, 'dir' | 'file' | 'resources'> = { name, description: description.trim(), body: m[2]!.trim() };
  const optionalString = (key: string, max?: number): string | undefined => {
    const v = f[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return void warnings.push(`field "${key}" must be a string; ignored`);
    if (max !== undefined && v.length > max) return void warnings.push(`field "${key}" is longer than ${max} characters; ignored`);
    return v;
  };
  const license = optionalString('license');
  if (license !== undefined) fields.license = license;
  const compatibility = optionalString('compatibility', 500);
  if (compatibility !== undefined) fields.compatibility = compatibility;
  const allowed = optionalString('allowed-tools');
  if (allowed !== undefined) fields.allowedTools = allowed;
  if (f.metadata !== undefined) {
    const md = f.metadata;
    if (typeof md === 'object' && md !== null && !Array.isArray(md) && Object.values(md).every((v) => typeof v === 'string')) {
      fields.metadata = md as Record<string, string>;
    } else warnings.push('field "metadata" must map strings to strings; ignored');
  }
  for (const k of Object.keys(f)) if (!KNOWN.has(k)) warnings.push(`unknown frontmatter field "${k}" ignored`);
  if (fields.body === '') warnings.push('the body is empty');
  return { ok: true, fields, warnings };
}

/** Loads the skill in `dir`: returns it (or undefined if invalid) and the warnings naming its file. */
export async function loadSkill(dir: string): Promise<{ skill?: Skill; warnings: SkillWarning[] }> {
  const abs = path.resolve(dir);
  const file = path.join(abs, 'SKILL.md');
  const warn = (message: string): SkillWarning => ({ file, message });
  let text: string;
  try {
    const st = await lstat(file);
    if (!st.isFile()) return { warnings: [warn('SKILL.md is not a regular file')] };
    if (st.size > MAX_SKILL_FILE) return { warnings: [warn(`SKILL.md is ${st.size} bytes; the limit is ${MAX_SKILL_FILE}`)] };
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { warnings: [warn(`cannot read SKILL.md: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)] };
  }
  const parsed = parseSkillMarkdown(text, path.basename(abs));
  if (!parsed.ok) return { warnings: [warn(`skipped: ${parsed.error}`)] };
  const warnings = parsed.warnings.map(warn);
  const resources: string[] = [];
  await listResources(abs, '', resources);
  if (resources.length > MAX_RESOURCES) {
    warnings.push(warn(`more than ${MAX_RESOURCES} resource files; only the first ${MAX_RESOURCES} are listed`));
    resources.length = MAX_RESOURCES;
  }
  return { skill: { ...parsed.fields, dir: abs, file, resources }, warnings };
}

async function listResources(root: string, rel: string, out: string[]): Promise<void> {
  if (out.length > MAX_RESOURCES) return;
  const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.isSymbolicLink()) continue;
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) await listResources(root, child, out);
    else if (e.isFile() && child !== 'SKILL.md') out.push(child);
  }
}
