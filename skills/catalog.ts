/**
 * A skills catalog: every valid skill found in one or more skills folders. It gives the catalog text
 * for a session's system prompt (name + description per skill) and the tools that disclose the
 * rest on demand: `activate_skill` (body + resource list) and `read_skill_file` (a resource).
 * Loading never throws for bad skills: they are skipped and reported in `warnings`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfinedRoot } from '../tools/builtins/confined-root.js';
import { FileToolError } from '../tools/errors.js';
import type { Tool } from '../tools/tool.js';
import { loadSkill, type Skill, type SkillWarning } from './skill.js';

/** Loaded skills and what was wrong with the others. */
export class SkillsCatalog {
  private readonly byName = new Map<string, Skill>();

  constructor(skills: readonly Skill[], readonly warnings: readonly SkillWarning[] = []) {
    for (const s of skills) this.byName.set(s.name, s);
  }

  /** Skills sorted by name. */
  get skills(): Skill[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The skill named `name`. */
  get(name: string): Skill | undefined {
    return this.byName.get(name);
  }

  /** System-prompt text listing each skill's name and description ('' when there are none). */
  catalogText(): string {
    if (this.byName.size === 0) return '';
    const lines = this.skills.map((s) => `<skill name="${s.name}">${escapeXml(s.description)}</skill>`);
    return [
      'Skills are folders of instructions for specific tasks. When a task matches a skill description below,',
      'call the activate_skill tool with that skill name to load its full instructions before you start.',
      '<available_skills>',
      ...lines,
      '</available_skills>',
    ].join('\n');
  }

  /** The text `activate_skill` returns for `name`. */
  activationText(name: string): string {
    const s = this.byName.get(name);
    if (!s) throw new FileToolError(`no skill named '${name}'`);
    const parts = [`<skill name="${s.name}">`, s.body, '</skill>'];
    if (s.resources.length > 0) {
      parts.push('', `Resource files of this skill (read one with read_skill_file {"name": "${s.name}", "path": ...}):`);
      parts.push(...s.resources.map((r) => `- ${r}`));
    }
    return parts.join('\n');
  }

  /** `activate_skill` and `read_skill_file` (source `skills`); none when the catalog is empty. */
  tools(options: { maxResourceBytes?: number } = {}): Tool[] {
    const names = this.skills.map((s) => s.name);
    if (names.length === 0) return [];
    const maxBytes = options.maxResourceBytes ?? 128 * 1024;
    const activate: Tool = {
      name: 'activate_skill',
      source: 'skills',
      description: 'Load the full instructions of a skill from the skills catalog, with the list of its resource files.',
      inputSchema: {
        type: 'object',
        properties: { name: { type: 'string', enum: names, description: 'Skill name from the catalog' } },
        required: ['name'],
        additionalProperties: false,
      },
      call: async (args) => this.activationText(String(args.name)),
    };
    const readResource: Tool = {
      name: 'read_skill_file',
      source: 'skills',
      description: "Read one resource file of a skill (a path from the skill's resource list).",
      inputSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', enum: names, description: 'Skill name' },
          path: { type: 'string', minLength: 1, description: 'Resource path relative to the skill folder' },
        },
        required: ['name', 'path'],
        additionalProperties: false,
      },
      call: async (args) => {
        const skill = this.byName.get(String(args.name));
        if (!skill) throw new FileToolError(`no skill named '${String(args.name)}'`);
        const root = await ConfinedRoot.open(skill.dir);
        const target = await root.existing(args.path);
        if (!skill.resources.includes(target.relative)) {
          throw new FileToolError(`'${String(args.path)}' is not a resource of skill '${skill.name}'; resources: ${skill.resources.join(', ') || '(none)'}`);
        }
        const st = await stat(target.real);
        if (st.size > maxBytes) throw new FileToolError(`'${target.relative}' is ${st.size} bytes; the limit is ${maxBytes}`);
        const buf = await readFile(target.real);
        if (buf.subarray(0, 8192).includes(0)) return { content: `'${target.relative}' is a binary file (${st.size} bytes); not shown`, isError: true };
        return buf.toString('utf8');
      },
    };
    return [activate, readResource];
  }
}

/**
 * Loads every `<dir>/<skill>/SKILL.md` of the given folders. Folders without SKILL.md are ignored;
 * invalid skills and duplicates (first one wins) become warnings naming the file.
 */
export async function loadSkillsCatalog(dirs: string | readonly string[]): Promise<SkillsCatalog> {
  const skills: Skill[] = [];
  const warnings: SkillWarning[] = [];
  const seen = new Map<string, string>();
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    const abs = path.resolve(dir);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      warnings.push({ file: abs, message: `cannot read skills folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const skillDir = path.join(abs, e.name);
      const hasFile = await stat(path.join(skillDir, 'SKILL.md')).then(() => true, () => false);
      if (!hasFile) continue;
      const loaded = await loadSkill(skillDir);
      warnings.push(...loaded.warnings);
      if (!loaded.skill) continue;
      const prior = seen.get(loaded.skill.name);
      if (prior) {
        warnings.push({ file: loaded.skill.file, message: `skipped: skill '${loaded.skill.name}' is already loaded from ${prior}` });
        continue;
      }
      seen.set(loaded.skill.name, loaded.skill.file);
      skills.push(loaded.skill);
    }
  }
  return new SkillsCatalog(skills, warnings);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\s+/g, ' ').trim();
}
