/**
 * MCP `tools/call` results → text for the model. Text blocks verbatim; images and audio noted with
 * type and size; resource links as `[resource link: name <uri>]`; embedded text resources inline;
 * `structuredContent` as JSON when there is no content; the legacy `toolResult` form as JSON.
 */
import type { ToolResult } from './tool.js';

type Block = Record<string, unknown> & { type?: unknown };

/** Approximate decoded size of base64 data. */
function base64Bytes(data: unknown): number {
  if (typeof data !== 'string') return 0;
  const pad = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - pad);
}

/** One content block as text. */
export function contentBlockToText(block: Block): string {
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' ? block.text : '';
    case 'image':
    case 'audio':
      return `[${block.type}: ${String(block.mimeType ?? 'unknown type')}, ${base64Bytes(block.data)} bytes; not shown]`;
    case 'resource_link': {
      const label = block.title ?? block.name ?? block.uri;
      const mime = block.mimeType ? `, ${String(block.mimeType)}` : '';
      const desc = typeof block.description === 'string' && block.description ? ` — ${block.description}` : '';
      return `[resource link: ${String(label)} <${String(block.uri)}>${mime}]${desc}`;
    }
    case 'resource': {
      const r = (block.resource ?? {}) as Record<string, unknown>;
      if (typeof r.text === 'string') return `[resource ${String(r.uri ?? '')}${r.mimeType ? ` (${String(r.mimeType)})` : ''}]\n${r.text}`;
      return `[resource ${String(r.uri ?? '')}: ${String(r.mimeType ?? 'binary')}, ${base64Bytes(r.blob)} bytes; not shown]`;
    }
    default:
      return `[unsupported content block type ${JSON.stringify(block.type)}]`;
  }
}

/** A whole `CallToolResult` (or legacy `{toolResult}`) as a `ToolResult`. */
export function callToolResultToText(result: unknown): ToolResult {
  const r = (result ?? {}) as Record<string, unknown>;
  const isError = r.isError === true;
  const blocks = Array.isArray(r.content) ? (r.content as Block[]) : [];
  const parts = blocks.map((b) => contentBlockToText(b ?? {})).filter((t) => t !== '');
  if (parts.length === 0 && r.structuredContent !== undefined) parts.push(JSON.stringify(r.structuredContent));
  if (parts.length === 0 && 'toolResult' in r) parts.push(typeof r.toolResult === 'string' ? r.toolResult : JSON.stringify(r.toolResult));
  const content = parts.length > 0 ? parts.join('\n\n') : isError ? '(the tool reported an error without details)' : '(no content)';
  return { content, ...(isError ? { isError: true } : {}) };
}
