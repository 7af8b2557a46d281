/** `resident gguf`: converts a Hugging Face Qwen3 / Qwen3-MoE folder to GGUF for llama.cpp (the benchmark anchor). */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { GGUF_QUANT_TYPES, isGgufQuantType } from '../../engine/synth/gguf-quant.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: resident gguf --model DIR --out FILE [--type native|f32|q8_0|q4_0|q4_k_m|q5_k_m|q6_k]

Writes the model's weights as one GGUF v3 file (atomically). --type picks the matrices' type:
  native   the checkpoint's own dtype, same bytes (default)
  f32      upcast exactly
  q8_0     llama.cpp's Q8_0 (32-value blocks, f16 scale), as llama-quantize writes it: the anchor
           for 'resident bench --weights int8'. Norms stay F32 and the MoE router its own dtype.
  q4_0, q4_k_m, q5_k_m, q6_k
           llama.cpp's block types with its per-tensor mix for the _m types (Q4_K_M: Q4_K, with Q6_K for
           output, and for attn_v / ffn_down of some layers); see engine/synth/gguf-quant.ts.
`;

export const command: Command = {
  name: 'gguf',
  summary: 'Convert a Hugging Face model folder to GGUF (native dtype, f32, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K)',
  usage,
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({ args: argv, options: { model: { type: 'string' }, out: { type: 'string' }, type: { type: 'string', default: 'native' } }, strict: true }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!values.model) throw new UsageError('--model DIR is required');
    if (!values.out) throw new UsageError('--out FILE is required');
    if (!existsSync(values.model)) throw new UsageError(`--model ${values.model} does not exist`);
    const type = values.type;
    if (type !== 'native' && type !== 'f32' && !isGgufQuantType(type)) throw new UsageError(`--type must be native, f32, ${GGUF_QUANT_TYPES.join(', ')}; got '${type}'`);
    const t0 = performance.now();
    const r = await writeGgufFromFolder(values.model, values.out, type === 'native' ? {} : { matrixDtype: type });
    process.stdout.write(`wrote ${values.out} (${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB, ${type}: ${Object.entries(r.types).map(([t, n]) => `${n} ${t}`).join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    return 0;
  },
};
