/** The built-in tools: `fetch_url` and the file tools confined to a workspace root. */
import type { Tool } from '../tool.js';
import { createFetchUrlTool, type FetchUrlToolOptions } from './fetch-url.js';
import { createFileTools, type FileToolsOptions } from './file-tools.js';

export { createFetchUrlTool, fetchUrl, type FetchedDocument, type FetchUrlOptions, type FetchUrlToolOptions } from './fetch-url.js';
export { createFileTools, type FileToolsOptions } from './file-tools.js';
export { AddressGuard, type AddressPolicy, type CheckedAddress, type Resolver } from './address-guard.js';

/** Which built-ins to create; a section left out (or `false`) is not created. */
export interface BuiltinToolsOptions {
  fetch?: FetchUrlToolOptions | false;
  files?: FileToolsOptions | false;
}

/** Creates the selected built-in tools (source `builtin`), ready for `ToolRegistry.add`. */
export async function createBuiltinTools(options: BuiltinToolsOptions): Promise<Tool[]> {
  const tools: Tool[] = [];
  if (options.fetch) tools.push(createFetchUrlTool(options.fetch));
  if (options.files) tools.push(...(await createFileTools(options.files)));
  return tools;
}
