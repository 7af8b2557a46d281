import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFileTools } from '../../tools/builtins/file-tools.js';
import { ToolRegistry } from '../../tools/registry.js';
import type { ToolOutcome } from '../../tools/tool.js';

let base: string;
let root: string;
let outside: string;
let reg: ToolRegistry;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'resident-file-tools-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'docs', 'deep'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(root, 'hello.txt'), 'hello world\n');
  await writeFile(path.join(root, 'docs', 'deep', 'note.md'), '# note\n');
  await writeFile(path.join(root, 'blob.bin'), Buffer.from([1, 2, 0, 3]));
  await writeFile(path.join(root, 'utf8.txt'), 'aé€😀z'); // 1+2+3+4+1 bytes
  await writeFile(path.join(outside, 'secret.txt'), 'TOP SECRET');
  await symlink(outside, path.join(root, 'escape-dir'));
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'escape-file'));
  await symlink('hello.txt', path.join(root, 'inner-link'));
  reg = new ToolRegistry().add(...(await createFileTools({ root, maxReadBytes: 6, maxWriteBytes: 64 })));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const call = (name: string, args: Record<string, unknown>) => reg.call({ name, arguments: JSON.stringify(args) });

function expectRefused(o: ToolOutcome, pattern: RegExp = /PathEscapeError/): void {
  expect(o.ok, o.content).toBe(false);
  if (!o.ok) {
    expect(o.error.type).toBe('execution_error');
    expect(o.error.message).toMatch(pattern);
  }
}

describe('read_file', () => {
  it('reads in pages of maxReadBytes without splitting UTF-8 sequences', async () => {
    const first = await call('read_file', { path: 'hello.txt' });
    expect(first.content).toBe('[hello.txt: bytes 0-6 of 12; 6 more bytes, call read_file with offset=6]\nhello ');
    const second = await call('read_file', { path: 'hello.txt', offset: 6 });
    expect(second.content).toBe('[hello.txt: bytes 6-12 of 12]\nworld\n');
    const u = await call('read_file', { path: 'utf8.txt' });
    expect(u.content).toContain('bytes 0-6 of 11'); // 'aé€' = 6 bytes, '😀' not split
    expect(u.content.endsWith('aé€')).toBe(true);
  });

  it('reads nested files, absolute paths inside the root and symlinks that stay inside', async () => {
    expect((await call('read_file', { path: 'docs/deep/note.md' })).content).toBe('[docs/deep/note.md: bytes 0-6 of 7; 1 more bytes, call read_file with offset=6]\n# note');
    expect((await call('read_file', { path: path.join(root, 'docs/deep/note.md'), offset: 6 })).content).toContain('bytes 6-7');
    expect((await call('read_file', { path: 'inner-link' })).content).toContain('hello ');
  });

  it('reports binary files, folders and missing files as errors', async () => {
    const bin = await call('read_file', { path: 'blob.bin' });
    expect(bin.ok && bin.isError).toBe(true);
    expectRefused(await call('read_file', { path: 'docs' }), /is a folder/);
    expectRefused(await call('read_file', { path: 'nope.txt' }), /does not exist/);
  });

  it('refuses traversal, absolute and encoded paths', async () => {
    for (const p of [
      '../outside/secret.txt',
      'docs/../../outside/secret.txt',
      '/etc/passwd',
      path.join(outside, 'secret.txt'),
      '%2e%2e/outside/secret.txt',
      '..%2foutside%2fsecret.txt',
      'docs/%2E%2E/%2E%2E/outside/secret.txt',
      '..\\outside\\secret.txt',
      'hello.txt\u0000.png',
      '~/secret.txt',
    ]) {
      const o = await call('read_file', { path: p });
      expectRefused(o);
      expect(o.content).not.toContain('TOP SECRET');
    }
  });

  it('refuses symlink escapes', async () => {
    expectRefused(await call('read_file', { path: 'escape-file' }), /symlink/);
    expectRefused(await call('read_file', { path: 'escape-dir/secret.txt' }), /symlink/);
  });
});

describe('root given through a symlink', () => {
  it('accepts absolute paths spelled with the configured root and still refuses escapes', async () => {
    const alias = path.join(base, 'root-alias');
    await symlink(root, alias);
    const viaAlias = new ToolRegistry().add(...(await createFileTools({ root: alias, allowWrite: false })));
    expect(viaAlias.names()).toEqual(['read_file', 'list_files']);
    const o = await viaAlias.call({ name: 'read_file', arguments: { path: path.join(alias, 'docs/deep/note.md') } });
    expect(o.content).toBe('# note\n');
    expectRefused(await viaAlias.call({ name: 'read_file', arguments: { path: `${alias}/../outside/secret.txt` } }));
    expect((await viaAlias.call({ name: 'read_file', arguments: { path: '..foo' } })).content).toMatch(/does not exist/);
  });
});

describe('list_files', () => {
  it('lists a folder, recursively on request, showing symlinks without following them', async () => {
    const top = await call('list_files', {});
    expect(top.content).toContain('docs/');
    expect(top.content).toContain('hello.txt (12 bytes)');
    expect(top.content).toContain(`escape-dir -> ${outside}`);
    expect(top.content).not.toContain('docs/deep/');
    const rec = await call('list_files', { path: 'docs', recursive: true });
    expect(rec.content).toBe('docs/: 2 entries\ndeep/\ndeep/note.md (7 bytes)');
    expectRefused(await call('list_files', { path: '..' }));
    expectRefused(await call('list_files', { path: 'escape-dir' }), /symlink/);
  });
});

describe('write_file', () => {
  it('writes atomically, honours modes and leaves no temp files', async () => {
    expect((await call('write_file', { path: 'out.txt', content: 'one' })).content).toBe('wrote 3 bytes to out.txt');
    expectRefused(await call('write_file', { path: 'out.txt', content: 'x', mode: 'create' }), /already exists/);
    await call('write_file', { path: 'out.txt', content: '+two', mode: 'append' });
    expect(await readFile(path.join(root, 'out.txt'), 'utf8')).toBe('one+two');
    expectRefused(await call('write_file', { path: 'new/dir/f.txt', content: 'x' }), /does not exist/);
    expect((await call('write_file', { path: 'new/dir/f.txt', content: 'x', create_dirs: true })).ok).toBe(true);
    expectRefused(await call('write_file', { path: 'big.txt', content: 'x'.repeat(65) }), /limit is 64/);
    expect((await readdir(root)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writes through an inner symlink to its target', async () => {
    await call('write_file', { path: 'inner-link', content: 'replaced' });
    expect(await readFile(path.join(root, 'hello.txt'), 'utf8')).toBe('replaced');
  });

  it('refuses traversal and symlink escapes without touching anything outside', async () => {
    for (const p of ['../outside/x.txt', path.join(outside, 'x.txt'), '%2e%2e/outside/x.txt', 'escape-dir/x.txt', 'escape-dir/sub/x.txt']) {
      expectRefused(await call('write_file', { path: p, content: 'pwned', create_dirs: true }));
    }
    expectRefused(await call('write_file', { path: 'escape-file', content: 'pwned' }), /symlink/);
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('TOP SECRET');
  });
});
