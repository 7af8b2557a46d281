// Shared fixtures of the tokens tests: paths into the shared reference data (see test/support/shared.ts).
import { sharedData } from '../support/shared.js';

const need = sharedData('tokens tests on reference data (Qwen3 tokenizer, real chat templates, reference tokenizations)', 'qwen3-tokenizer', 'chat-templates', 'tokenizer-tests');
export const [QWEN3_DIR, TEMPLATES_DIR, VECTORS_DIR] = need.paths;
/** '' when the reference data is present; else why the tests that need it skip. */
export const SHARED_SKIP = need.skip;

export const TEMPLATE_FILES = ['Qwen-Qwen3-0.6B.jinja', 'Qwen3-Coder.jinja', 'Qwen-Qwen2.5-7B-Instruct.jinja', 'Qwen-QwQ-32B.jinja'] as const;
