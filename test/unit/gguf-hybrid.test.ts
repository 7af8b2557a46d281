/**
 * GGUF of Qwen3.5 hybrids as convert_hf_to_gguf.py writes them: llama.cpp tensor names, dims and types, the
 * qwen35 / qwen35moe keys, and the value transforms (1 + w norms, −exp(A_log), grouped → tiled value heads,
 * gate_up split) checked on the bytes against the safetensors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToF64 } from '../../engine/model/float-convert.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { tiledVHeadOrder } from '../../engine/synth/gguf-hybrid.js';
import { makeModel } from '../../engine/synth/make-model.js';
import { readBytes } from '../support/read-bytes.js';

const root = mkdtempSync(join(tmpdir(), 'resident-gguf-hybrid-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Info = Awaited<ReturnType<typeof readGgufFileInfo>>;
let spec: ModelSpec;
let gguf: string;
let info: Info;
let byName: Map<string, NonNullable<Info['tensorInfo']>[number]>;
const P = 'model.language_model.layers.';

/** HF tensor values (float64). */
const hf = (name: string) => {
  const t = spec.tensors.find((x) => x.name === name)!;
  return decodeToF64(t.dtype, readBytes(t.file, t.offset, t.nbytes));
};
/** GGUF tensor values: F32 as is, BF16 widened (exact). */
const gg = (name: string) => {
  const t = byName.get(name)!;
  const n = t.dimensions.map(Number).reduce((a, b) => a * b, 1);
  return t.ggmlType === 0 ? decodeToF64('f32', readBytes(gguf, Number(t.fileOffset), n * 4)) : decodeToF64('bf16', readBytes(gguf, Number(t.fileOffset), n * 2));
};

beforeAll(async () => {
  const r = await makeModel({ preset: 'tiny-hybrid-moe', dtype: 'bf16', out: join(root, 'moe'), gguf: join(root, 'moe.gguf'), tokenizerDir: false });
  spec = await loadModelSpec(r.dir);
  gguf = r.gguf!;
  info = await readGgufFileInfo(gguf, { logWarnings: false });
  byName = new Map(info.tensorInfo!.map((t) => [t.name, t]));
});

describe('hybrid GGUF', () => {
  it('orders value heads from grouped (by key head) to tiled', () => {
    expect(Array.from(tiledVHeadOrder(2, 4, 1))).toEqual([0, 2, 1, 3]);
    expect(Array.from(tiledVHeadOrder(2, 6, 2))).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
    expect(Array.from(tiledVHeadOrder(3, 3, 1))).toEqual([0, 1, 2]);
  });

  it('writes the qwen35moe keys', () => {
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    const a = md.qwen35moe as Record<string, unknown> & { ssm: object; rope: object; attention: object };
    expect(md.general).toMatchObject({ architecture: 'qwen35moe', file_type: 32 });
    expect(a).toMatchObject({ block_count: 4, embedding_length: 128, expert_count: 8, expert_used_count: 2, expert_feed_forward_length: 64, expert_shared_feed_forward_length: 96, full_attention_interval: 4 });
    expect(a.feed_forward_length).toBeUndefined();
    expect(a.ssm).toEqual({ conv_kernel: 4, state_size: 32, group_count: 2, time_step_rank: 4, inner_size: 128 });
    expect(a.rope).toMatchObject({ dimension_count: 16, dimension_sections: [3, 3, 2, 0] });
    expect(a.attention).toMatchObject({ head_count: 4, head_count_kv: 2, key_length: 64, value_length: 64, recurrent_layers: [true, true, true, false] });
    expect((md.tokenizer as { ggml: { pre: string } }).ggml.pre).toBe('qwen2'); // the built-in tokenizer is Qwen3's kind
  });

  it('names, dims and types every tensor as llama.cpp loads them (no MTP, no vision)', () => {
    const dims = (n: string) => byName.get(n)!.dimensions.map(Number);
    const type = (n: string) => byName.get(n)!.ggmlType;
    const linear = ['attn_norm.weight', 'post_attention_norm.weight', 'attn_qkv.weight', 'attn_gate.weight', 'ssm_beta.weight', 'ssm_alpha.weight', 'ssm_conv1d.weight', 'ssm_dt.bias', 'ssm_a', 'ssm_norm.weight', 'ssm_out.weight'];
    const attn = ['attn_norm.weight', 'post_attention_norm.weight', 'attn_q.weight', 'attn_k.weight', 'attn_v.weight', 'attn_output.weight', 'attn_q_norm.weight', 'attn_k_norm.weight'];
    const moe = ['ffn_gate_inp.weight', 'ffn_gate_exps.weight', 'ffn_up_exps.weight', 'ffn_down_exps.weight', 'ffn_gate_inp_shexp.weight', 'ffn_gate_shexp.weight', 'ffn_up_shexp.weight', 'ffn_down_shexp.weight'];
    const want = ['token_embd.weight', 'output_norm.weight', 'output.weight'];
    for (let i = 0; i < 4; i++) want.push(...(i === 3 ? attn : linear).map((n) => `blk.${i}.${n}`), ...moe.map((n) => `blk.${i}.${n}`));
    expect([...byName.keys()].sort()).toEqual(want.sort());
    expect(dims('blk.0.attn_qkv.weight')).toEqual([128, 2 * 2 * 32 + 4 * 32]);
    expect(dims('blk.0.ssm_conv1d.weight')).toEqual([4, 256]);
    expect(dims('blk.0.ssm_a')).toEqual([4]);
    expect(dims('blk.0.ssm_out.weight')).toEqual([128, 128]);
    expect(dims('blk.3.attn_q.weight')).toEqual([128, 4 * 64 * 2]);
    expect(dims('blk.1.ffn_gate_exps.weight')).toEqual([128, 64, 8]);
    expect(dims('blk.1.ffn_down_exps.weight')).toEqual([64, 128, 8]);
    expect(dims('blk.1.ffn_gate_inp_shexp.weight')).toEqual([128, 1]);
    for (const n of ['blk.0.ssm_conv1d.weight', 'blk.0.ssm_a', 'blk.0.ssm_dt.bias', 'blk.0.ssm_norm.weight', 'blk.0.ffn_gate_inp.weight', 'blk.0.ffn_gate_inp_shexp.weight', 'blk.3.attn_q_norm.weight', 'output_norm.weight']) {
      expect(type(n), n).toBe(0); // F32
    }
    for (const n of ['blk.0.attn_qkv.weight', 'blk.0.ssm_alpha.weight', 'blk.0.ffn_up_exps.weight', 'blk.3.attn_q.weight', 'token_embd.weight']) expect(type(n), n).toBe(30); // BF16
  });

  it('transforms the values as convert_hf_to_gguf.py does', () => {
    const p = tiledVHeadOrder(2, 4, 1);
    const pv = tiledVHeadOrder(2, 4, 32);
    // zero-centred norms → 1 + w; DeltaNet's gated norm as is
    expect(Array.from(gg('blk.0.attn_norm.weight'))).toEqual(Array.from(hf(`${P}0.input_layernorm.weight`), (v) => Math.fround(v + 1)));
    expect(Array.from(gg('output_norm.weight'))).toEqual(Array.from(hf('model.language_model.norm.weight'), (v) => Math.fround(v + 1)));
    expect(Array.from(gg('blk.0.ssm_norm.weight'))).toEqual(Array.from(hf(`${P}0.linear_attn.norm.weight`)));
    // A_log → −exp, dt_bias, in_proj_a rows: tiled head order
    const aLog = hf(`${P}1.linear_attn.A_log`), ssmA = gg('blk.1.ssm_a');
    for (let j = 0; j < 4; j++) expect(ssmA[j]).toBe(Math.fround(-Math.exp(aLog[p[j]!]!)));
    const dt = hf(`${P}1.linear_attn.dt_bias`);
    expect(Array.from(gg('blk.1.ssm_dt.bias'))).toEqual(Array.from(p, (i) => dt[i]));
    const a = hf(`${P}1.linear_attn.in_proj_a.weight`), alpha = gg('blk.1.ssm_alpha.weight');
    for (let j = 0; j < 4; j++) expect(Array.from(alpha.subarray(j * 128, (j + 1) * 128))).toEqual(Array.from(a.subarray(p[j]! * 128, (p[j]! + 1) * 128)));
    // in_proj_qkv: q and k rows unchanged, v rows in tiled order
    const qkv = hf(`${P}2.linear_attn.in_proj_qkv.weight`), gq = gg('blk.2.attn_qkv.weight');
    expect(Array.from(gq.subarray(0, 128 * 128))).toEqual(Array.from(qkv.subarray(0, 128 * 128)));
    for (const j of [0, 31, 32, 95, 127]) {
      expect(Array.from(gq.subarray((128 + j) * 128, (129 + j) * 128))).toEqual(Array.from(qkv.subarray((128 + pv[j]!) * 128, (129 + pv[j]!) * 128)));
    }
    // conv1d [C, 1, K]: v channels reordered; out_proj: columns reordered
    const conv = hf(`${P}2.linear_attn.conv1d.weight`), gc = gg('blk.2.ssm_conv1d.weight');
    expect(Array.from(gc.subarray((128 + 40) * 4, (129 + 40) * 4))).toEqual(Array.from(conv.subarray((128 + pv[40]!) * 4, (129 + pv[40]!) * 4)));
    const out = hf(`${P}2.linear_attn.out_proj.weight`), go = gg('blk.2.ssm_out.weight');
    for (const j of [0, 33, 64, 127]) expect(go[5 * 128 + j]).toBe(out[5 * 128 + pv[j]!]);
    // gate_up_proj [E, 2I, H] → gate / up halves per expert
    const gu = hf(`${P}1.mlp.experts.gate_up_proj`), gate = gg('blk.1.ffn_gate_exps.weight'), up = gg('blk.1.ffn_up_exps.weight');
    const I = 64, H = 128;
    expect(Array.from(gate.subarray(5 * I * H, 6 * I * H))).toEqual(Array.from(gu.subarray(10 * I * H, 11 * I * H)));
    expect(Array.from(up.subarray(5 * I * H, 6 * I * H))).toEqual(Array.from(gu.subarray(11 * I * H, 12 * I * H)));
    // router and shared-expert gate: F32 of the same values
    expect(Array.from(gg('blk.1.ffn_gate_inp_shexp.weight'))).toEqual(Array.from(hf(`${P}1.mlp.shared_expert_gate.weight`)));
  });
});
