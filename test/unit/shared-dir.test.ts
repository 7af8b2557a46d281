// test/support/shared.ts: where tests find the shared reference data, and RESIDENT_SHARED_DIR.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SHARED_DIR, qwen3TokenizerDir, sharedAbsentReason, sharedData, sharedDir } from '../support/shared.js';

const root = mkdtempSync(join(tmpdir(), 'resident-shared-'));
afterEach(() => vi.unstubAllEnvs());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('sharedDir', () => {
  it("'none' hides the folder; a path relocates it; a missing path is absent", () => {
    vi.stubEnv('RESIDENT_SHARED_DIR', 'none');
    expect(sharedDir()).toBeUndefined();
    expect(sharedAbsentReason()).toMatch(/hidden \(RESIDENT_SHARED_DIR=none\)/);
    vi.stubEnv('RESIDENT_SHARED_DIR', root);
    expect(sharedDir()).toBe(root);
    expect(sharedAbsentReason()).toBe('');
    vi.stubEnv('RESIDENT_SHARED_DIR', join(root, 'nope'));
    expect(sharedDir()).toBeUndefined();
    expect(sharedAbsentReason()).toContain(join(root, 'nope'));
    vi.stubEnv('RESIDENT_SHARED_DIR', '');
    expect(DEFAULT_SHARED_DIR).toMatch(/[/\\]shared$/);
    expect(sharedDir()).toBe(sharedAbsentReason() ? undefined : DEFAULT_SHARED_DIR);
  });

  it('sharedData: paths under the folder; absent → a printed skip reason; present without an entry → throws', () => {
    vi.stubEnv('RESIDENT_SHARED_DIR', root);
    mkdirSync(join(root, 'a'), { recursive: true });
    expect(sharedData('x', 'a')).toEqual({ paths: [join(root, 'a')], skip: '' });
    expect(() => sharedData('subject x', 'a', 'b/c')).toThrow(`subject x: the shared folder ${root} has no b/c`);
    vi.stubEnv('RESIDENT_SHARED_DIR', 'none');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const d = sharedData('subject x', 'a');
      expect(d.skip).toBe('skipping subject x: the shared reference data is hidden (RESIDENT_SHARED_DIR=none)');
      expect(d.paths).toEqual([join(DEFAULT_SHARED_DIR, 'a')]);
      expect(warn).toHaveBeenCalledWith(d.skip);
    } finally {
      warn.mockRestore();
    }
  });

  it('qwen3TokenizerDir needs both tokenizer files once the folder is there', () => {
    vi.stubEnv('RESIDENT_SHARED_DIR', 'none');
    expect(qwen3TokenizerDir()).toBeUndefined();
    const dir = join(root, 'q');
    mkdirSync(join(dir, 'qwen3-tokenizer'), { recursive: true });
    vi.stubEnv('RESIDENT_SHARED_DIR', dir);
    writeFileSync(join(dir, 'qwen3-tokenizer', 'tokenizer.json'), '{}');
    expect(() => qwen3TokenizerDir()).toThrow(/has no qwen3-tokenizer\/tokenizer_config\.json/);
    writeFileSync(join(dir, 'qwen3-tokenizer', 'tokenizer_config.json'), '{}');
    expect(qwen3TokenizerDir()).toBe(join(dir, 'qwen3-tokenizer'));
  });
});
