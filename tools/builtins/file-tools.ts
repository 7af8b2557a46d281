/**
 * `read_file`, `list_files`, `write_file` confined to one root folder (see `ConfinedRoot`).
 * Reads are size-limited and paged by byte offset; writes are atomic (engine/util/atomic-file.ts)
 * and size-limited.
 */
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../engine/util/atomic-file.js';
import { FileToolError } from '../errors.js';
import type { Tool } from '../tool.js';
import { ConfinedRoot } from './confined-root.js';

/** Settings of the file tools. */
export interface FileToolsOptions {
  /** The folder the tools are confined to (must exist). */
  root: string;
  /** Bytes returned per `read_file` call (default 256 KiB). */
  maxReadBytes?: number;
  /** Largest file `write_file` produces (default 1 MiB). */
  maxWriteBytes?: number;
  /** Entries `list_files` returns (default 500). */
  maxListEntries?: number;
  /** Include `write_file` (default true). */
  allowWrite?: boolean;
}

/** Creates the file tools for `options.root`; throws `FileToolError` if the root is missing. */
export async function createFileTools(options: FileToolsOptions): Promise<Tool[]> {
  const root = await ConfinedRoot.open(options.root);
  const tools = [readFileTool(root, options.maxReadBytes ?? 256 * 1024), listFilesTool(root, options.maxListEntries ?? 500)];
  if (options.allowWrite !== false) tools.push(writeFileTool(root, options.maxWriteBytes ?? 1024 * 1024));
  return tools;
}

function readFileTool(root: ConfinedRoot, maxBytes: number): Tool {
  return {
    name: 'read_file',
    source: 'builtin',
    description: `Read a UTF-8 text file inside the workspace. Returns at most ${maxBytes} bytes per call; use offset to read further.`,
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1, description: 'File path relative to the workspace root' },
        offset: { type: 'integer', minimum: 0, description: 'Byte offset to start reading at (default 0)' },
      },
      required: ['path'],
      additionalProperties: false,
    },
    async call(args) {
      const target = await root.existing(args.path);
      const st = await stat(target.real);
      if (st.isDirectory()) throw new FileToolError(`'${target.relative}' is a folder; use list_files`);
      if (!st.isFile()) throw new FileToolError(`'${target.relative}' is not a regular file`);
      const offset = typeof args.offset === 'number' ? args.offset : 0;
      if (offset > st.size) throw new FileToolError(`offset ${offset} is past the end of '${target.relative}' (${st.size} bytes)`);
      const fh = await open(target.real, 'r');
      let buf: Buffer;
      try {
        buf = Buffer.alloc(Math.min(maxBytes, st.size - offset));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        buf = buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
      if (buf.subarray(0, 8192).includes(0)) {
        return { content: `'${target.relative}' is a binary file (${st.size} bytes); not shown`, isError: true };
      }
      let end = buf.length;
      if (offset + end < st.size) while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
      const text = buf.subarray(0, end).toString('utf8');
      const next = offset + end;
      if (offset === 0 && next >= st.size) return text;
      const note = next < st.size ? `; ${st.size - next} more bytes, call read_file with offset=${next}` : '';
      return `[${target.relative}: bytes ${offset}-${next} of ${st.size}${note}]\n${text}`;
    },
  };
}

function listFilesTool(root: ConfinedRoot, maxEntries: number): Tool {
  return {
    name: 'list_files',
    source: 'builtin',
    description: 'List files and folders inside the workspace (folders end with "/"). Symlinks are shown, not followed.',
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string', description: 'Folder relative to the workspace root (default ".")' },
        recursive: { type: 'boolean', description: 'Descend into sub-folders (default false)' },
      },
      additionalProperties: false,
    },
    async call(args) {
      const dir = await root.existing(args.path ?? '.');
      if (!(await stat(dir.real)).isDirectory()) throw new FileToolError(`'${dir.relative}' is not a folder`);
      const lines: string[] = [];
      let more = false;
      const walk = async (abs: string, prefix: string): Promise<void> => {
        const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
        for (const e of entries) {
          if (lines.length >= maxEntries) return void (more = true);
          const full = path.join(abs, e.name);
          if (e.isSymbolicLink()) {
            const to = await readlink(full).catch(() => '?');
            lines.push(`${prefix}${e.name} -> ${to}`);
          } else if (e.isDirectory()) {
            lines.push(`${prefix}${e.name}/`);
            if (args.recursive === true) await walk(full, `${prefix}${e.name}/`);
          } else {
            const size = await lstat(full).then((s) => s.size, () => 0);
            lines.push(`${prefix}${e.name} (${size} bytes)`);
          }
        }
      };
      await walk(dir.real, '');
      const head = `${dir.relative === '.' ? 'workspace root' : dir.relative + '/'}: ${lines.length} entr${lines.length === 1 ? 'y' : 'ies'}`;
      return [head, ...lines, ...(more ? [`[listing stopped after ${maxEntries} entries]`] : [])].join('\n');
    },
  };
}

function writeFileTool(root: ConfinedRoot, maxBytes: number): Tool {
  return {
    name: 'write_file',
    source: 'builtin',
    description: `Write a UTF-8 text file inside the workspace (atomic replace; at most ${maxBytes} bytes). mode: overwrite (default), create (fail if it exists) or append.`,
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1, description: 'File path relative to the workspace root' },
        content: { type: 'string', description: 'Text to write' },
        mode: { type: 'string', enum: ['overwrite', 'create', 'append'] },
        create_dirs: { type: 'boolean', description: 'Create missing parent folders (default false)' },
      },
      required: ['path', 'content'],
      additionalProperties: false,
    },
    async call(args) {
      const content = String(args.content);
      const mode = (args.mode as string | undefined) ?? 'overwrite';
      const target = await root.forWrite(args.path, args.create_dirs === true);
      const existing = await stat(target.real).catch(() => undefined);
      if (existing && mode === 'create') throw new FileToolError(`'${target.relative}' already exists (mode create)`);
      let data = Buffer.from(content, 'utf8');
      if (mode === 'append' && existing) {
        if (existing.size + data.length > maxBytes) throw new FileToolError(`appending would make '${target.relative}' larger than ${maxBytes} bytes`);
        data = Buffer.concat([await readWhole(target.real), data]);
      }
      if (data.length > maxBytes) throw new FileToolError(`content is ${data.length} bytes; the limit is ${maxBytes}`);
      await writeFileAtomic(target.real, data, { mode: existing ? existing.mode & 0o777 : 0o644 });
      return `wrote ${data.length} bytes to ${target.relative}`;
    },
  };
}

async function readWhole(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
