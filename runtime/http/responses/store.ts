/**
 * Stored responses (`store: true`): one file per response, `<data>/responses/<id>.json`, written
 * atomically (engine/util/atomic-file.ts), read back after a restart. Format (docs/formats.md,
 * "Stored responses"): two lines, a header `{"format":"resident-response","version":2,"bytes":N,
 * "sha256":"<hex>"}` then the record's JSON (N bytes, whose SHA-256 the header holds). A file
 * whose header or checksum does not match is skipped with a warning (never served).
 *
 * A record keeps what a later request needs: the response as returned, its input items, the chat
 * messages it added (for rebuilding a conversation whose session is gone) and the conversation
 * point (session, end) that `previous_response_id` continues.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAtomicTemp, writeFileAtomic } from '../../../engine/util/atomic-file.js';
import type { ChatMessage, ToolDefinition } from '../../../engine/tokens/messages.js';
import type { ConversationPoint } from '../../chat/chat-service.js';
import type { ResponseObject } from './output.js';

export const RESPONSE_FORMAT = 'resident-response';
/** Version 2 added `tenant`; version 1 records (no owner) are read as owned by `default`. */
export const RESPONSE_VERSION = 2;

/** One stored response. */
export interface ResponseRecord {
  response: ResponseObject;
  /** The request's input items, each with an id (for GET …/input_items). */
  inputItems: Record<string, unknown>[];
  /** Where the conversation ends after this response; null when it was not recorded (cancelled). */
  point: ConversationPoint | null;
  /** The system prompt the session holds (instructions merged with leading system input), or null. */
  system: string | null;
  /** Tools the session was created with. */
  tools: ToolDefinition[];
  /** Chat messages this response added after the system prompt: its input, then its answer. */
  messages: ChatMessage[];
  previousId: string | null;
  /** The tenant that created it (absent in version 1: `default`). */
  tenant?: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Encodes a record as the file's bytes. */
export function encodeRecord(r: ResponseRecord): Buffer {
  const body = Buffer.from(JSON.stringify(r), 'utf8');
  const head = JSON.stringify({ format: RESPONSE_FORMAT, version: RESPONSE_VERSION, bytes: body.length, sha256: sha256(body) });
  return Buffer.concat([Buffer.from(`${head}\n`, 'utf8'), body, Buffer.from('\n')]);
}

/** Decodes a file's bytes; throws with the reason when they are not a valid record. */
export function decodeRecord(b: Buffer): ResponseRecord {
  const nl = b.indexOf(10);
  if (nl < 0) throw new Error('no header line');
  const head = JSON.parse(b.subarray(0, nl).toString('utf8')) as { format?: string; version?: number; bytes?: number; sha256?: string };
  if (head.format !== RESPONSE_FORMAT) throw new Error(`not a ${RESPONSE_FORMAT} file`);
  if (head.version !== RESPONSE_VERSION && head.version !== 1) throw new Error(`unsupported version ${head.version}`);
  const body = b.subarray(nl + 1, nl + 1 + (head.bytes ?? -1));
  if (body.length !== head.bytes || sha256(body) !== head.sha256) throw new Error('checksum mismatch (truncated or damaged)');
  return JSON.parse(body.toString('utf8')) as ResponseRecord;
}

export class ResponseStore {
  /** Response id → session id (for deleting a session with its last response). */
  private sessions = new Map<string, string | null>();
  private cache = new Map<string, ResponseRecord>();
  /** Item id (output and input items) → the response holding it, for item_reference. */
  private items = new Map<string, string>();

  private constructor(readonly dir: string, private readonly warn: (m: string) => void) {}

  /** Opens (creating) the folder and indexes the records in it; removes temps left by a crash. */
  static open(dir: string, warn: (m: string) => void = () => {}): ResponseStore {
    mkdirSync(dir, { recursive: true });
    const s = new ResponseStore(dir, warn);
    const found: ResponseRecord[] = [];
    for (const name of readdirSync(dir)) {
      if (isAtomicTemp(name)) rmSync(join(dir, name), { force: true });
      else if (/^resp_[A-Za-z0-9]+\.json$/.test(name)) {
        const r = s.read(name.slice(0, -5));
        if (r) found.push(r);
      }
    }
    // Oldest first (prune deletes from the front).
    for (const r of found.sort((a, b) => Number(a.response.created_at) - Number(b.response.created_at))) s.index(r);
    return s;
  }

  private index(r: ResponseRecord): void {
    this.sessions.set(r.response.id, r.point?.sessionId ?? null);
    for (const it of [...r.inputItems, ...r.response.output]) if (typeof it.id === 'string') this.items.set(it.id, r.response.id);
  }

  /** A stored input or output item by id (what an item_reference names) of a record `accept`ed, or undefined. */
  item(id: string, accept: (r: ResponseRecord) => boolean = () => true): Record<string, unknown> | undefined {
    const rid = this.items.get(id);
    const r = rid === undefined ? undefined : this.get(rid);
    return r && accept(r) ? [...r.inputItems, ...r.response.output].find((it) => it.id === id) : undefined;
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private read(id: string): ResponseRecord | undefined {
    try {
      const r = decodeRecord(readFileSync(this.file(id)));
      if (r.response.id !== id) throw new Error(`holds response ${r.response.id}`);
      return r;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.warn(`stored response ${id} is unreadable and is ignored: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** A stored response, or undefined. */
  get(id: string): ResponseRecord | undefined {
    if (!this.sessions.has(id)) return undefined;
    let r = this.cache.get(id);
    if (!r) {
      r = this.read(id);
      if (!r) return undefined;
      if (this.cache.size >= 256) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, r);
    }
    return r;
  }

  /** Writes (or replaces) a record, durably. */
  async put(r: ResponseRecord): Promise<void> {
    await writeFileAtomic(this.file(r.response.id), encodeRecord(r));
    this.index(r);
    this.cache.set(r.response.id, r);
  }

  /** Deletes a record; returns its session id when no other stored response refers to that session. */
  async delete(id: string): Promise<{ orphan: string | null }> {
    const sid = this.sessions.get(id) ?? null;
    this.sessions.delete(id);
    for (const [item, rid] of this.items) if (rid === id) this.items.delete(item);
    this.cache.delete(id);
    await rm(this.file(id), { force: true });
    const shared = sid !== null && [...this.sessions.values()].includes(sid);
    return { orphan: sid !== null && !shared ? sid : null };
  }

  /** Number of stored responses. */
  get size(): number {
    return this.sessions.size;
  }

  /** Deletes the oldest records beyond `keep`; returns the sessions no remaining record refers to. */
  async prune(keep: number): Promise<string[]> {
    const orphans: string[] = [];
    for (const id of [...this.sessions.keys()].slice(0, Math.max(0, this.sessions.size - keep))) {
      const { orphan } = await this.delete(id);
      if (orphan) orphans.push(orphan);
    }
    return orphans;
  }

  /** Records of the chain ending at `id`, oldest first; undefined when a link is missing. */
  chain(id: string): ResponseRecord[] | undefined {
    const out: ResponseRecord[] = [];
    for (let cur: string | null = id; cur !== null; ) {
      const r = this.get(cur);
      if (!r) return undefined;
      out.unshift(r);
      cur = r.previousId;
      if (out.length > 100_000) return undefined;
    }
    return out;
  }
}
