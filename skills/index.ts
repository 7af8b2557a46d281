/** Agent Skills: SKILL.md folders, a catalog for the system prompt, and the disclosure tools. */
import { fileURLToPath } from 'node:url';

export { loadSkill, parseSkillMarkdown, SKILL_NAME_PATTERN, type ParsedSkill, type Skill, type SkillWarning } from './skill.js';
export { loadSkillsCatalog, SkillsCatalog } from './catalog.js';

/** Folder of the example skills shipped with Resident (`skills/examples`). */
export const EXAMPLE_SKILLS_DIR = fileURLToPath(new URL('./examples/', import.meta.url));
