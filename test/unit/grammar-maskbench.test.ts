// MaskBench sample (every 20th file) token by token: 0 invalid instances accepted, every valid
// instance of a compiled schema accepted, masks agree with accept(). The full run is
// `resident bench-grammar --schemas ../shared/json-schema/maskbench --tokenizer ../shared/qwen3-tokenizer`.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { listSchemaFiles, loadTokenizer, runMaskBench } from '../../runtime/bench/grammar/maskbench.js';
import { loadGrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { sharedData } from '../support/shared.js';

const need = sharedData('MaskBench sample on Qwen3 tokens', 'json-schema/maskbench', 'qwen3-tokenizer');
const [MB, TOK] = need.paths;

describe.skipIf(!!need.skip)('MaskBench sample', () => {
  it('every 20th file: no invalid accepted, valid accepted, consistent masks', () => {
    const dir = existsSync(`${MB}/data`) ? `${MB}/data` : MB;
    const files = listSchemaFiles(dir).filter((_, i) => i % 20 === 0);
    const r = runMaskBench(files, loadGrammarVocab(TOK, 151936), loadTokenizer(TOK));
    const { outcomes, compileTimes, maskTimes, ...fig } = r;
    console.log(JSON.stringify(fig));
    expect(r.files).toBe(files.length);
    expect(r.inconsistent).toBe(0);
    expect(outcomes.filter((o) => o.invalidAccepted).map((o) => o.file)).toEqual([]);
    expect(outcomes.filter((o) => o.validRejected).map((o) => o.file)).toEqual([]);
    expect(r.compiled).toBeGreaterThan(files.length * 0.8);
    expect(r.valid.accepted).toBeGreaterThan(0);
    void compileTimes;
    void maskTimes;
  }, 600_000);
});
