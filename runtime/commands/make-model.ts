/** `resident make-model`: writes a Hugging Face Qwen3 / Qwen3.5 folder with deterministic random weights (and optionally GGUF). */
import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeModel, type MakeModelDType } from '../../engine/synth/make-model.js';
import { getPreset, presetNames } from '../../engine/synth/model-presets.js';
import { GGUF_QUANT_TYPES, isGgufQuantType } from '../../engine/synth/gguf-quant.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: resident make-model --preset <name> --dtype bf16|f16|f32|fp8 --out DIR [--seed N] [--gguf FILE [--gguf-type T]] [--tokenizer DIR]

Writes a complete Hugging Face model folder with random (but deterministic) weights: config.json,
generation_config.json, model.safetensors, tokenizer.json and tokenizer_config.json.

Options:
  --preset NAME     model shape (see below)
  --dtype DTYPE     weight dtype: bf16, f16 or f32 (default bf16), or fp8: Qwen's FP8 release layout —
                    linear layers F8_E4M3 with a per-128×128-block '<name>_scale_inv' (F32, amax/448),
                    embeddings, norms, lm_head and routers BF16, quantization_config in config.json
  --out DIR         output folder (must not exist or be empty)
  --seed N          weight seed (default 0); same preset+dtype+seed → same bytes
  --gguf FILE       also write the same weights as GGUF (for llama.cpp)
  --gguf-type T     quantize the GGUF's matrices: ${GGUF_QUANT_TYPES.join(', ')} (llama.cpp's mix for
                    the _m types: see engine/synth/gguf-quant.ts); default the --dtype
  --tokenizer DIR   copy tokenizer.json + tokenizer_config.json from DIR (e.g. Qwen3's own); default
                    'builtin': a small built-in byte-level BPE with Qwen3's special tokens and chat
                    template (nothing outside the project is read)

Presets:
${presetNames().map((n) => `  ${n.padEnd(20)}${getPreset(n)!.summary}`).join('\n')}
`;

export const command: Command = {
  name: 'make-model',
  summary: 'Generate a random-weight Qwen3 / Qwen3.5 model folder (and GGUF) for tests and benchmarks',
  usage,
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          preset: { type: 'string' },
          dtype: { type: 'string', default: 'bf16' },
          out: { type: 'string' },
          seed: { type: 'string', default: '0' },
          gguf: { type: 'string' },
          'gguf-type': { type: 'string' },
          tokenizer: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!values.preset) throw new UsageError('--preset is required');
    if (!getPreset(values.preset)) throw new UsageError(`unknown preset '${values.preset}'; known: ${presetNames().join(', ')}`);
    if (!values.out) throw new UsageError('--out is required');
    const dtype = values.dtype as MakeModelDType;
    if (!['bf16', 'f16', 'f32', 'fp8'].includes(dtype)) throw new UsageError(`--dtype must be bf16, f16, f32 or fp8, got '${values.dtype}'`);
    if (dtype === 'fp8' && getPreset(values.preset)!.config.arch === 'minimax-m2') throw new UsageError('--dtype fp8 writes the Qwen3 / Qwen3.5 FP8 layouts; not for MiniMax presets');
    if (dtype === 'fp8' && values.gguf) throw new UsageError('--gguf is not written for --dtype fp8 (write the BF16 model with --gguf instead)');
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
    if (existsSync(values.out) && readdirSync(values.out).length > 0) throw new UsageError(`--out ${values.out} exists and is not empty`);
    const ggufType = values['gguf-type'];
    if (ggufType !== undefined && !isGgufQuantType(ggufType)) throw new UsageError(`--gguf-type must be one of ${GGUF_QUANT_TYPES.join(', ')}, got '${ggufType}'`);
    if (ggufType !== undefined && !values.gguf) throw new UsageError('--gguf-type needs --gguf FILE');
    const builtin = values.tokenizer === 'builtin';
    if (values.tokenizer && !builtin && !existsSync(values.tokenizer)) throw new UsageError(`--tokenizer ${values.tokenizer} does not exist`);

    const t0 = performance.now();
    const r = await makeModel({ preset: values.preset, dtype, out: values.out, seed, gguf: values.gguf, ...(ggufType ? { ggufType } : {}), tokenizerDir: builtin ? false : values.tokenizer });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      `wrote ${r.dir} (${values.preset}, ${dtype}, seed ${seed}, ${(r.params / 1e6).toFixed(1)} M params, ${r.tokenizer} tokenizer)` +
        (r.gguf ? ` and ${r.gguf}` : '') + ` in ${secs} s\n`,
    );
    return 0;
  },
};
