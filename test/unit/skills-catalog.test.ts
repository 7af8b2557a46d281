import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_SKILLS_DIR, loadSkillsCatalog, parseSkillMarkdown, type SkillsCatalog } from '../../skills/index.js';
import { ToolRegistry } from '../../tools/registry.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/skills/', import.meta.url));

let catalog: SkillsCatalog;
beforeAll(async () => {
  catalog = await loadSkillsCatalog(FIXTURES);
});

const warningFor = (folder: string) => catalog.warnings.filter((w) => w.file === path.join(FIXTURES, folder, 'SKILL.md')).map((w) => w.message);

describe('skills catalog loading', () => {
  it('loads valid skills, with optional fields and resource files', () => {
    expect(catalog.skills.map((s) => s.name)).toEqual(['crlf-skill', 'good-skill']);
    const good = catalog.get('good-skill')!;
    expect(good).toMatchObject({
      description: 'A valid test skill with resources. Use in tests.',
      license: 'Apache-2.0',
      compatibility: 'Any agent with file access',
      metadata: { owner: 'tests' },
      allowedTools: 'read_file',
      resources: ['notes.txt', 'references/extra.md'],
    });
    expect(good.body).toBe('# Good skill\n\nStep 1: read `references/extra.md`.');
    expect(warningFor('good-skill')).toEqual([]);
  });

  it('accepts BOM, CRLF and folded YAML, warning about unknown or malformed optional fields', () => {
    const s = catalog.get('crlf-skill')!;
    expect(s.description).toBe('Folded description over two lines.');
    expect(s.body).toBe('Body with CRLF.');
    expect(s.metadata).toBeUndefined();
    expect(warningFor('crlf-skill')).toEqual(['field "metadata" must map strings to strings; ignored', 'unknown frontmatter field "triggers" ignored']);
  });

  it('skips invalid skills with a warning naming the file', () => {
    expect(warningFor('upper-case')[0]).toMatch(/^skipped: name 'Upper-Case' must use only lowercase/);
    expect(warningFor('mismatch-folder')[0]).toBe("skipped: name 'other-name' does not match its folder name 'mismatch-folder'");
    expect(warningFor('no-frontmatter')[0]).toMatch(/must start with YAML frontmatter/);
    expect(warningFor('bad-yaml')[0]).toMatch(/frontmatter is not valid YAML/);
    expect(warningFor('missing-description')[0]).toMatch(/"description" is missing or empty/);
    expect(warningFor('long-description')[0]).toBe('skipped: description is 1025 characters; the limit is 1024');
    expect(warningFor('double--hyphen')[0]).toMatch(/single hyphens/);
    expect(catalog.warnings.some((w) => w.file.includes('not-a-skill'))).toBe(false);
  });

  it('checks the name rules', () => {
    const md = (name: string) => `---\nname: ${name}\ndescription: d\n---\nbody`;
    expect(parseSkillMarkdown(md('a'.repeat(64)), 'a'.repeat(64)).ok).toBe(true);
    expect(parseSkillMarkdown(md('a'.repeat(65)), 'a'.repeat(65))).toMatchObject({ ok: false, error: expect.stringMatching(/longer than 64/) });
    for (const bad of ['-lead', 'trail-', 'under_score', 'dot.name', '"sp ace"']) {
      expect(parseSkillMarkdown(md(bad), bad.replace(/"/g, '')).ok, bad).toBe(false);
    }
    expect(parseSkillMarkdown('---\nname: x\ndescription: "   "\n---\n', 'x').ok).toBe(false);
    expect(parseSkillMarkdown('---\n- a\n- b\n---\n', 'x')).toMatchObject({ ok: false, error: 'frontmatter must be a YAML mapping' });
  });

  it('reports a missing skills folder and keeps the first of duplicate names', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'resident-skills-'));
    try {
      await cp(path.join(FIXTURES, 'good-skill'), path.join(dir, 'good-skill'), { recursive: true });
      const both = await loadSkillsCatalog([FIXTURES, dir, path.join(dir, 'missing')]);
      expect(both.get('good-skill')!.dir).toBe(path.join(FIXTURES, 'good-skill'));
      expect(both.warnings.some((w) => w.file === path.join(dir, 'good-skill', 'SKILL.md') && /already loaded/.test(w.message))).toBe(true);
      expect(both.warnings.some((w) => w.file === path.join(dir, 'missing') && /ENOENT/.test(w.message))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('catalog text and skill tools', () => {
  it('lists name and description per skill for the system prompt', () => {
    const text = catalog.catalogText();
    expect(text).toContain('<skill name="good-skill">A valid test skill with resources. Use in tests.</skill>');
    expect(text).toContain('<skill name="crlf-skill">Folded description over two lines.</skill>');
    expect(text).toContain('activate_skill');
  });

  it('activate_skill takes an enum of the catalog and returns body and resources', async () => {
    const reg = new ToolRegistry().add(...catalog.tools());
    const def = reg.definitions(['activate_skill'])[0]!.function.parameters as { properties: { name: { enum: string[] } } };
    expect(def.properties.name.enum).toEqual(['crlf-skill', 'good-skill']);
    const out = await reg.call({ name: 'activate_skill', arguments: '{"name":"good-skill"}' });
    expect(out.content).toBe(
      '<skill name="good-skill">\n# Good skill\n\nStep 1: read `references/extra.md`.\n</skill>\n\n' +
        'Resource files of this skill (read one with read_skill_file {"name": "good-skill", "path": ...}):\n- notes.txt\n- references/extra.md',
    );
    const unknown = await reg.call({ name: 'activate_skill', arguments: { name: 'upper-case' } });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error.type).toBe('invalid_arguments');
  });

  it('read_skill_file reads listed resources only, confined to the skill folder', async () => {
    const reg = new ToolRegistry().add(...catalog.tools());
    expect((await reg.call({ name: 'read_skill_file', arguments: { name: 'good-skill', path: 'references/extra.md' } })).content).toBe('# Extra reference\n');
    for (const p of ['../crlf-skill/SKILL.md', '.hidden', '/etc/passwd', 'SKILL.md']) {
      const o = await reg.call({ name: 'read_skill_file', arguments: { name: 'good-skill', path: p } });
      expect(o.ok, p).toBe(false);
    }
  });

  it('refuses a resource symlink that leaves the skill folder', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'resident-skills-link-'));
    try {
      await cp(path.join(FIXTURES, 'good-skill'), path.join(dir, 'good-skill'), { recursive: true });
      await writeFile(path.join(dir, 'secret.txt'), 'SECRET');
      await symlink(path.join(dir, 'secret.txt'), path.join(dir, 'good-skill', 'link.txt'));
      const c = await loadSkillsCatalog(dir);
      expect(c.get('good-skill')!.resources).not.toContain('link.txt');
      const o = await new ToolRegistry().add(...c.tools()).call({ name: 'read_skill_file', arguments: { name: 'good-skill', path: 'link.txt' } });
      expect(o.ok).toBe(false);
      expect(o.content).not.toContain('SECRET');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives no tools and no text for an empty catalog', async () => {
    const empty = await loadSkillsCatalog(path.join(FIXTURES, 'not-a-skill'));
    expect(empty.tools()).toEqual([]);
    expect(empty.catalogText()).toBe('');
  });
});

describe('example skills shipped with Resident', () => {
  it('load without warnings and list their resources', async () => {
    const ex = await loadSkillsCatalog(EXAMPLE_SKILLS_DIR);
    expect(ex.warnings).toEqual([]);
    expect(ex.skills.map((s) => s.name)).toEqual(['code-review', 'web-research']);
    expect(ex.get('code-review')!.resources).toEqual(['assets/report-template.md', 'references/review-checklist.md']);
    expect(ex.get('web-research')!.resources).toEqual(['references/source-checklist.md']);
    for (const s of ex.skills) expect(s.description.length).toBeLessThanOrEqual(1024);
  });
});
