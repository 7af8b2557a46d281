/**
 * `--model FILE.gguf`: a GGUF-loaded model against the Hugging Face folder of the same weights (our BF16 GGUF of
 * each tiny preset): same config, bit-identical logits, same greedy tokens, same tokenizer and chat template; split
 * sets; refused types named; fingerprints that separate formats and quantizations.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, UnsupportedModelError } from '../../engine/errors.js';
import { loadGgufModelSpec, ggufModelFiles } from '../../engine/model/gguf-model.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import type { ModelSpec, TensorDType } from '../../engine/model/model-spec.js';
import { loadEngine } from '../../engine/native.js';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { ChatTemplate } from '../../engine/tokens/chat-template.js';
import { loadTokenizer } from '../../engine/tokens/load-tokenizer.js';
import { retypeTensor, splitGguf } from '../support/gguf-rewrite.js';
import { ensureModel } from '../support/models.js';

const tmp = mkdtempSync(join(tmpdir(), 'resident-gguf-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PROMPT = Array.from({ length: 40 }, (_, i) => ((i * 7919) % 5000) + 10);

/** Logits of every prompt position, then of 4 greedy steps, and the greedy tokens. */
async function run(spec: ModelSpec<TensorDType>): Promise<{ logits: Float32Array[]; tokens: number[] }> {
  const engine = await loadEngine(spec, { threads: 2, activations: 'f32' });
  try {
    const slot = engine.createSlot(64);
    const logits: Float32Array[] = [];
    const tokens: number[] = [];
    let [r] = await engine.forward([{ slot, tokens: PROMPT, logits: 'all' }]);
    for (let step = 0; ; step++) {
      logits.push(Float32Array.from(r!.data));
      const last = r!.data.subarray(r!.data.length - spec.config.vocabSize);
      let best = 0;
      for (let i = 1; i < last.length; i++) if (last[i]! > last[best]!) best = i;
      tokens.push(best);
      if (step === 4) break;
      [r] = await engine.forward([{ slot, tokens: [best] }]);
    }
    return { logits, tokens };
  } finally {
    engine.dispose();
  }
}

const configOf = (s: ModelSpec<TensorDType>) => {
  const { eosTokenIds: _e, weightPrefix: _w, mtpLayers: _m, ...rest } = s.config;
  return rest;
};

const CONVERSATION = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Weather in Paris? <|im_end|> ünïcödé 日本語' },
];
const TOOLS = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

describe.each(['tiny', 'tiny-moe', 'tiny-hybrid', 'tiny-hybrid-moe', 'tiny-minimax'])('%s: GGUF vs the Hugging Face folder of the same BF16 weights', (preset) => {
  it('same config, bit-identical logits and greedy tokens, same tokenizer and template', async () => {
    const m = await ensureModel(preset, 'bf16', { gguf: true });
    const hf = await loadModelSpec(m.dir);
    const gguf = await loadModelSpecFrom(m.gguf!);
    expect(gguf.format).toBe('gguf');
    expect(configOf(gguf)).toEqual(configOf(hf));
    for (const id of hf.config.eosTokenIds) expect(gguf.config.eosTokenIds).toContain(id);
    expect(gguf.dtype).toBe('bf16');
    expect(gguf.matrixTypes).toEqual(['bf16']);
    expect(gguf.tensors.map((t) => t.name).sort()).toEqual(
      hf.tensors.flatMap((t) => (t.name.endsWith('experts.gate_up_proj') ? [t.name.replace('gate_up_proj', 'gate_proj'), t.name.replace('gate_up_proj', 'up_proj')] : [t.name]))
        .map((n) => n.replace('model.language_model.', 'model.')).sort(),
    );

    const [a, b] = [await run(hf), await run(gguf)];
    expect(b.tokens).toEqual(a.tokens);
    a.logits.forEach((l, i) => expect(Buffer.from(b.logits[i]!.buffer).equals(Buffer.from(l.buffer)), `logits of call ${i}`).toBe(true));

    const [th, tg] = [await loadTokenizer(m.dir), await loadTokenizer(m.gguf!)];
    const [ch, cg] = [await ChatTemplate.fromDir(m.dir), await ChatTemplate.fromDir(m.gguf!)];
    expect(cg.source).toBe(ch.source);
    const text = ch.render(CONVERSATION, { addGenerationPrompt: true, tools: TOOLS });
    expect(cg.render(CONVERSATION, { addGenerationPrompt: true, tools: TOOLS })).toBe(text);
    expect(tg.encode(text, { allowSpecial: true })).toEqual(th.encode(text, { allowSpecial: true }));
    expect(tg.encode(text)).toEqual(th.encode(text));
    expect([...tg.specialIds].sort()).toEqual([...th.specialIds].sort());
    expect([...tg.addedTokens.keys()].sort()).toEqual([...th.addedTokens.keys()].sort());
    for (const id of th.eosIds) expect(tg.eosIds).toContain(id);
  }, 600_000);
});

describe('GGUF files', () => {
  it('a split set (first file, any folder holding it) loads as the single file does, with the same logits', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const dir = join(tmp, 'split');
    mkdirSync(dir, { recursive: true });
    const files = splitGguf(m.gguf!, dir, 'tiny', 3);
    expect(files).toHaveLength(3);
    expect(ggufModelFiles(dir)).toEqual(files);
    expect(ggufModelFiles(files[1]!)).toEqual(files);
    const [one, split] = [await loadGgufModelSpec(m.gguf!), await loadModelSpecFrom(dir)];
    expect(new Set(split.tensors.map((t) => t.file)).size).toBe(3);
    expect(split.fingerprint).toBe(one.fingerprint);
    const [a, b] = [await run(one), await run(split)];
    a.logits.forEach((l, i) => expect(Buffer.from(b.logits[i]!.buffer).equals(Buffer.from(l.buffer))).toBe(true));
    rmSync(files[2]!);
    await expect(loadModelSpecFrom(files[0]!)).rejects.toThrow(/lacks tiny-00003-of-00003\.gguf/);
  }, 300_000);

  it('a tensor of a type the engine does not run is an UnsupportedModelError naming the tensor and its ggml type', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const bad = join(tmp, 'q4_1.gguf');
    retypeTensor(m.gguf!, bad, 'blk.1.attn_k.weight', 3); // Q4_1
    const err = await loadGgufModelSpec(bad).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect((err as UnsupportedModelError).message).toMatch(/'blk\.1\.attn_k\.weight'.*Q4_1/);
    expect((err as UnsupportedModelError).tensor).toBe('blk.1.attn_k.weight');
    retypeTensor(m.gguf!, bad, 'blk.0.attn_norm.weight', 8); // a norm in Q8_0
    await expect(loadGgufModelSpec(bad)).rejects.toThrow(/'blk\.0\.attn_norm\.weight' is Q8_0; norms and parameters must be F32, F16 or BF16/);
    await expect(loadModelSpecFrom(join(tmp, 'none.gguf'))).rejects.toBeInstanceOf(ModelLoadError);
  }, 300_000);

  it('fingerprints: same file anywhere = same; HF folder ≠ its BF16 GGUF; BF16 GGUF ≠ Q8_0 GGUF of the same weights', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const copy = join(tmp, 'copy.gguf');
    copyFileSync(m.gguf!, copy);
    const q8 = join(tmp, 'q8_0.gguf');
    await writeGgufFromFolder(m.dir, q8, { matrixDtype: 'q8_0' });
    const [hf, bf16, again, q] = [await loadModelSpec(m.dir), await loadGgufModelSpec(m.gguf!), await loadGgufModelSpec(copy), await loadGgufModelSpec(q8)];
    expect(again.fingerprint).toBe(bf16.fingerprint);
    expect(bf16.fingerprint).not.toBe(hf.fingerprint);
    expect(q.fingerprint).not.toBe(bf16.fingerprint);
    expect(q.matrixTypes).toEqual(['q8_0']);
    expect(q.dtype).toBe('f16');
    expect(q.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!.dtype).toBe('q8_0');
  }, 300_000);
});
