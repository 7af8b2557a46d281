// Shared fixtures of the tokens tests: paths into ../shared (reference data we did not write).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of `../shared/<rel>` relative to the repo root. */
export const shared = (rel: string): string => fileURLToPath(new URL(`../../../shared/${rel}`, import.meta.url));

export const QWEN3_DIR = shared('qwen3-tokenizer');
export const TEMPLATES_DIR = shared('chat-templates');
export const VECTORS_DIR = shared('tokenizer-tests');

/** True when the reference data is present; tests skip with this message otherwise. */
export const HAVE_SHARED = existsSync(`${QWEN3_DIR}/tokenizer.json`) && existsSync(TEMPLATES_DIR) && existsSync(VECTORS_DIR);
export const SKIP_MESSAGE = `reference data missing: ${shared('')} (qwen3-tokenizer, chat-templates, tokenizer-tests) — tokens tests skipped`;
if (!HAVE_SHARED) console.warn(SKIP_MESSAGE);

export const TEMPLATE_FILES = ['Qwen-Qwen3-0.6B.jinja', 'Qwen3-Coder.jinja', 'Qwen-Qwen2.5-7B-Instruct.jinja', 'Qwen-QwQ-32B.jinja'] as const;
