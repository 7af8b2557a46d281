import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { QWEN3_ADDED_TOKENS, writeBuiltinTokenizer } from '../../engine/synth/builtin-tokenizer.js';
import { decodeToF64, f16ToNumber } from '../../engine/model/float-convert.js';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { MAKE_MODEL_VERSION, makeModel, RANDOM_GAINS, UnknownPresetError } from '../../engine/synth/make-model.js';
import { getPreset } from '../../engine/synth/model-presets.js';
import { main } from '../../runtime/cli.js';
import { demoModelName, ensureDemoModel } from '../../runtime/host/demo-model.js';
import { loadReference, referenceForward, topK } from '../support/reference-forward.js';
import { readBytes } from '../support/read-bytes.js';
import { qwen3TokenizerDir, sharedData } from '../support/shared.js';

const need = sharedData("make-model's comparisons with Qwen3's tokenizer and chat template", 'qwen3-tokenizer', 'chat-templates/Qwen-Qwen3-0.6B.jinja');
const [SHARED_TOK, SHARED_TEMPLATE] = need.paths;

const root = mkdtempSync(join(tmpdir(), 'resident-mm-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('make-model', () => {
  it('writes a loadable tiny folder, deterministic per seed', async () => {
    const a = await makeModel({ preset: 'tiny', dtype: 'bf16', out: join(root, 'a'), seed: 1, tokenizerDir: false });
    const b = await makeModel({ preset: 'tiny', dtype: 'bf16', out: join(root, 'b'), seed: 1, tokenizerDir: false });
    const c = await makeModel({ preset: 'tiny', dtype: 'bf16', out: join(root, 'c'), seed: 2, tokenizerDir: false });
    expect(a.params).toBe(151936 * 128 + 4 * (128 * 256 * 2 + 128 * 128 * 2 + 3 * 128 * 384 + 128 * 2 + 64 * 2) + 128);
    const spec = await loadModelSpec(a.dir);
    const { eosTokenIds, bosTokenId, ...shape } = getPreset('tiny')!.config;
    expect(spec.config).toMatchObject(shape);
    expect(spec.config.eosTokenIds).toEqual(eosTokenIds);
    expect(spec.config.bosTokenId).toBe(bosTokenId);
    expect(spec.dtype).toBe('bf16');
    const cfg = JSON.parse(readFileSync(join(a.dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', torch_dtype: 'bfloat16', head_dim: 64, tie_word_embeddings: true });
    expect(sha(join(a.dir, 'model.safetensors'))).toBe(sha(join(b.dir, 'model.safetensors')));
    expect(sha(join(a.dir, 'model.safetensors'))).not.toBe(sha(join(c.dir, 'model.safetensors')));
    expect(existsSync(join(a.dir, 'generation_config.json'))).toBe(true);
  });

  it.skipIf(!!need.skip)('copies Qwen3 tokenizer files when given', async () => {
    const r = await makeModel({ preset: 'tiny-untied', dtype: 'f16', out: join(root, 'q'), tokenizerDir: SHARED_TOK });
    expect(r.tokenizer).toBe('copied');
    expect(sha(join(r.dir, 'tokenizer.json'))).toBe(sha(join(SHARED_TOK, 'tokenizer.json')));
    expect((await loadModelSpec(r.dir)).tensors.at(-1)!.name).toBe('lm_head.weight');
  });

  it('defaults to the built-in tokenizer, and so does the demo model, whatever sits beside the repo', async () => {
    const builtin = writeBuiltinTokenizer();
    const r = await makeModel({ preset: 'tiny', dtype: 'bf16', out: join(root, 'default-tok'), seed: 1 });
    expect(r.tokenizer).toBe('builtin');
    expect(readFileSync(join(r.dir, 'tokenizer.json'), 'utf8')).toBe(builtin.tokenizerJson);
    const data = join(root, 'demo-data');
    const demo = await ensureDemoModel(data, 'bf16');
    expect(demo).toBe(join(data, 'models', demoModelName('bf16')));
    expect(readFileSync(join(demo, 'tokenizer.json'), 'utf8')).toBe(builtin.tokenizerJson);
    expect(readFileSync(join(demo, 'tokenizer_config.json'), 'utf8')).toBe(builtin.tokenizerConfigJson);
    expect(sha(join(demo, 'model.safetensors'))).not.toBe(sha(join(r.dir, 'model.safetensors'))); // seed 0 vs 1
  });

  it('builds a byte-level BPE tokenizer with Qwen3 special tokens and chat template', async () => {
    const dir = join(root, 'a');
    const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    const tok = new Tokenizer(tj, tc);
    const text = '<|im_start|>user\nWhat is the weather in Paris? Ünïcödé ✓ 123<|im_end|>\n<think>\n</think>';
    const ids = tok.encode(text).ids;
    expect(ids[0]).toBe(151644);
    expect(ids).toContain(151645);
    expect(ids.slice(-3)).toEqual([151667, 198, 151668]); // '\n' is byte token 198, as in Qwen3
    expect(tok.decode(ids)).toBe(text);
    expect(ids.every((i: number) => i < 151669)).toBe(true);
    expect(tok.encode(' the assistant').ids.length).toBeLessThan(5); // merges are in effect
    QWEN3_ADDED_TOKENS.forEach(([content], i) => expect(tok.token_to_id(content)).toBe(151643 + i));
    expect(tc.eos_token).toBe('<|im_end|>');
  });

  it.skipIf(!!need.skip)("the built-in tokenizer has Qwen3's chat template, added tokens, pre-tokenizer and decoder", () => {
    const dir = join(root, 'a');
    const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(tc.chat_template).toBe(readFileSync(SHARED_TEMPLATE, 'utf8'));
    const real = JSON.parse(readFileSync(join(SHARED_TOK, 'tokenizer.json'), 'utf8'));
    expect(tj.added_tokens).toEqual(real.added_tokens);
    expect(tj.pre_tokenizer).toEqual(real.pre_tokenizer);
    expect(tj.decoder).toEqual(real.decoder);
  });

  it('f16 weights keep activations finite and far from the f16 limit; outputs are peaked, attention is not uniform', async () => {
    const r = await makeModel({ preset: 'tiny', dtype: 'f16', out: join(root, 'h'), seed: 3, tokenizerDir: false });
    const ref = await loadReference(r.dir);
    const tokens = Array.from({ length: 32 }, (_, i) => (i * 48271 + 11) % 151643);
    const out = referenceForward(ref, tokens, { captureAttention: true });
    for (const v of Object.values(out.maxAbs)) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeLessThan(1000); // f16 max is 65504
    }
    const top1 = out.logprobs.map((row) => Math.exp(topK(row, 1)[0]!.logprob));
    expect(top1.reduce((a, b) => a + b, 0) / top1.length).toBeGreaterThan(0.3);
    let h = 0;
    let hu = 0;
    for (const layer of out.attention!) for (const head of layer) for (let q = 8; q < head.length; q++) {
      for (const w of head[q]!) if (w > 0) h -= w * Math.log(w);
      hu += Math.log(q + 1);
    }
    expect(h / hu).toBeLessThan(0.75);
  });

  it('writes GGUF with llama.cpp names, reversed dims, F32 norms and the same matrix bytes', async () => {
    const dir = join(root, 'a');
    const gguf = join(root, 'a.gguf');
    await writeGgufFromFolder(dir, gguf, { name: 'tiny-test' });
    const info = await readGgufFileInfo(gguf, { logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(info.version).toBe(3);
    expect(md.general).toMatchObject({ architecture: 'qwen3', name: 'tiny-test', file_type: 32, alignment: 32 });
    expect(md.qwen3).toMatchObject({ context_length: 40960, embedding_length: 128, block_count: 4, feed_forward_length: 384 });
    expect(md.qwen3!.attention).toMatchObject({ head_count: 4, head_count_kv: 2, key_length: 64, value_length: 64 });
    expect((md.qwen3!.rope as { freq_base: number }).freq_base).toBe(1e6);
    const tk = (md.tokenizer as { ggml: Record<string, unknown> }).ggml;
    expect(tk).toMatchObject({ model: 'gpt2', pre: 'qwen2', eos_token_id: 151645, padding_token_id: 151643, bos_token_id: 151643 });
    const tokens = tk.tokens as string[];
    const types = tk.token_type as number[];
    expect(tokens.length).toBe(151936);
    expect([tokens[151644], types[151644]]).toEqual(['<|im_start|>', 3]);
    expect([tokens[151667], types[151667]]).toEqual(['<think>', 4]);
    expect([tokens[151700], types[151700]]).toEqual(['[PAD151700]', 5]);
    expect(typeof (md.tokenizer as Record<string, unknown>).chat_template).toBe('string');

    const ti = info.tensorInfo!;
    expect(ti.length).toBe(1 + 4 * 11 + 1);
    const byName = new Map(ti.map((t) => [t.name, t]));
    expect(byName.has('output.weight')).toBe(false);
    const q = byName.get('blk.2.attn_q.weight')!;
    expect(q.dimensions.map(Number)).toEqual([128, 256]);
    expect(q.ggmlType).toBe(30);
    expect(byName.get('blk.0.attn_q_norm.weight')!.ggmlType).toBe(0);
    for (const t of ti) expect(Number(t.offset) % 32).toBe(0);
    // same bytes as the safetensors matrix; norms decoded exactly to f32
    const spec = await loadModelSpec(dir);
    const hq = spec.tensors.find((t) => t.name === 'model.layers.2.self_attn.q_proj.weight')!;
    expect(readBytes(gguf, Number(q.fileOffset), hq.nbytes).equals(readBytes(hq.file, hq.offset, hq.nbytes))).toBe(true);
    const hn = spec.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_norm.weight')!;
    const gn = new Float32Array(readBytes(gguf, Number(byName.get('blk.0.attn_q_norm.weight')!.fileOffset), 64 * 4).buffer.slice(0));
    expect(Array.from(gn)).toEqual(Array.from(decodeToF64('bf16', readBytes(hn.file, hn.offset, hn.nbytes))));
  });

  it('writes Q8_0 GGUF: matrices as 34-byte blocks (f16 scale, 32 int8) within half a step of the weights; norms F32', async () => {
    const dir = join(root, 'a');
    const gguf = join(root, 'a-q8.gguf');
    await writeGgufFromFolder(dir, gguf, { matrixDtype: 'q8_0' });
    const info = await readGgufFileInfo(gguf, { logWarnings: false });
    expect((info.metadata as unknown as Record<string, Record<string, unknown>>).general).toMatchObject({ file_type: 7 });
    const byName = new Map(info.tensorInfo!.map((t) => [t.name, t]));
    expect(byName.get('blk.0.attn_q_norm.weight')!.ggmlType).toBe(0);
    const q = byName.get('blk.2.attn_q.weight')!;
    expect(q.ggmlType).toBe(8);
    expect(byName.get('token_embd.weight')!.ggmlType).toBe(8);
    const spec = await loadModelSpec(dir);
    const hq = spec.tensors.find((t) => t.name === 'model.layers.2.self_attn.q_proj.weight')!;
    const w = decodeToF64('bf16', readBytes(hq.file, hq.offset, hq.nbytes));
    const raw = readBytes(gguf, Number(q.fileOffset), (w.length / 32) * 34);
    for (let b = 0; b < w.length / 32; b++) {
      const d = f16ToNumber(raw.readUInt16LE(b * 34));
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[b * 32 + i]!));
      expect(Math.abs(d - amax / 127)).toBeLessThanOrEqual((amax / 127) * 2 ** -10);
      for (let i = 0; i < 32; i++) expect(Math.abs(raw.readInt8(b * 34 + 2 + i) * d - w[b * 32 + i]!)).toBeLessThanOrEqual(d * 0.51 + amax * 2 ** -10);
    }
  });

  it('writes MoE GGUF with stacked experts (qwen3moe)', async () => {
    const r = await makeModel({ preset: 'tiny-moe', dtype: 'bf16', out: join(root, 'moe'), gguf: join(root, 'moe.gguf'), tokenizerDir: false });
    const spec = await loadModelSpec(r.dir);
    expect(spec.config.moe?.numExperts).toBe(8);
    const info = await readGgufFileInfo(r.gguf!, { logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(md.qwen3moe).toMatchObject({ expert_count: 8, expert_used_count: 2, expert_feed_forward_length: 64 });
    const byName = new Map(info.tensorInfo!.map((t) => [t.name, t]));
    expect(byName.get('blk.0.ffn_gate_exps.weight')!.dimensions.map(Number)).toEqual([128, 64, 8]);
    expect(byName.get('blk.0.ffn_down_exps.weight')!.dimensions.map(Number)).toEqual([64, 128, 8]);
    expect(byName.get('blk.0.ffn_gate_inp.weight')!.dimensions.map(Number)).toEqual([128, 8]);
    expect(byName.has('output.weight')).toBe(true);
    // expert 5's up_proj is the 6th slice of the stacked tensor
    const up5 = spec.tensors.find((t) => t.name === 'model.layers.3.mlp.experts.5.up_proj.weight')!;
    const stacked = byName.get('blk.3.ffn_up_exps.weight')!;
    expect(readBytes(r.gguf!, Number(stacked.fileOffset) + 5 * up5.nbytes, up5.nbytes).equals(readBytes(up5.file, up5.offset, up5.nbytes))).toBe(true);
  });

  it('tiny-256-calm is tiny-256 with other init gains: only q/k norms, o_proj and down_proj change, by those gains', async () => {
    const calm = getPreset('tiny-256-calm')!, base = getPreset('tiny-256')!;
    expect(calm.config).toEqual(base.config);
    const r = await makeModel({ preset: 'tiny-256-calm', dtype: 'f32', out: join(root, 'calm'), tokenizerDir: false });
    const b = await makeModel({ preset: 'tiny-256', dtype: 'f32', out: join(root, 'base'), tokenizerDir: false });
    const [cs, bs] = [await loadModelSpec(r.dir), await loadModelSpec(b.dir)];
    const rms = (x: Float64Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
    const values = (spec: typeof cs, name: string) => {
      const t = spec.tensors.find((x) => x.name === name)!;
      return decodeToF64('f32', readBytes(t.file, t.offset, t.nbytes));
    };
    for (const t of cs.tensors) {
      const [c, v] = [values(cs, t.name), values(bs, t.name)];
      const g = calm.init!;
      if (/(q|k)_norm\.weight$/.test(t.name)) {  // mean qkGain + std 0.1 · the same stream: shifted by the gains' difference
        expect(Math.max(...c.map((x, i) => Math.abs(x - v[i]! - (g.qkGain - RANDOM_GAINS.qkGain)))), t.name).toBeLessThan(1e-6);
        continue;
      }
      const ratio = t.name.endsWith('o_proj.weight') ? g.attnOutGain / RANDOM_GAINS.attnOutGain : t.name.endsWith('down_proj.weight') ? g.mlpOutGain / RANDOM_GAINS.mlpOutGain : 1;
      expect(rms(c) / rms(v), t.name).toBeCloseTo(ratio, 5);  // same stream: the same values up to the gain
    }
  }, 60_000);

  it('rejects unknown presets; the CLI reports usage errors with exit code 2', async () => {
    await expect(makeModel({ preset: 'huge', dtype: 'f32', out: join(root, 'x') })).rejects.toThrow(UnknownPresetError);
    const quiet = async (argv: string[]) => {
      const write = process.stderr.write;
      process.stderr.write = () => true;
      try {
        return await main(argv);
      } finally {
        process.stderr.write = write;
      }
    };
    expect(await quiet(['make-model', '--preset', 'huge', '--out', join(root, 'y')])).toBe(2);
    expect(await quiet(['make-model', '--preset', 'tiny', '--dtype', 'q4', '--out', join(root, 'y')])).toBe(2);
    expect(await quiet(['make-model', '--preset', 'tiny'])).toBe(2);
    expect(await quiet(['make-model', '--preset', 'tiny', '--out', join(root, 'a')])).toBe(2); // not empty
    expect(await quiet(['make-model', '--preset', 'tiny', '--seed', '-4', '--out', join(root, 'y')])).toBe(2);
    const out = process.stdout.write;
    process.stdout.write = () => true;
    try {
      expect(await main(['make-model', '--preset', 'tiny', '--dtype', 'f32', '--tokenizer', 'builtin', '--out', join(root, 'cli')])).toBe(0);
    } finally {
      process.stdout.write = out;
    }
    expect((await loadModelSpec(join(root, 'cli'))).dtype).toBe('f32');
  });
});

describe('ensureModel', () => {
  it('builds once and survives two concurrent callers', async () => {
    const { ensureModel, MODELS_CACHE } = await import('../support/models.js');
    const seed = 900_000 + (process.pid % 1000);
    try {
      const [a, b] = await Promise.all([ensureModel('tiny', 'bf16', { seed }), ensureModel('tiny', 'bf16', { seed })]);
      expect(a.dir).toBe(b.dir);
      expect((await loadModelSpec(a.dir)).dtype).toBe('bf16');
      const again = await ensureModel('tiny', 'bf16', { seed, gguf: true });
      expect(again.dir).toBe(a.dir);
      expect(existsSync(again.gguf!)).toBe(true);
      const leftovers = (await import('node:fs')).readdirSync(MODELS_CACHE).filter((f) => f.startsWith('.tmp-') && f.includes(`-s${seed}-`));
      expect(leftovers).toEqual([]);
    } finally {
      rmSync(join(MODELS_CACHE, `tiny-bf16-s${seed}-v${MAKE_MODEL_VERSION}${qwen3TokenizerDir() ? '' : '-builtintok'}`), { recursive: true, force: true });
    }
  });
});
