/**
 * Qwen3.5-MoE experts stored one matrix per expert (as Qwen's FP8 releases ship them:
 * `{prefix}layers.i.mlp.experts.e.{gate,up,down}_proj.weight`, [Ie, H], [Ie, H], [H, Ie]) fused into the 3-D tensors
 * the engine binds (`mlp.experts.gate_up_proj` [E, 2·Ie, H]: per expert its gate rows then its up rows;
 * `mlp.experts.down_proj` [E, H, Ie]). The fused tensors are built when their `data` is read.
 */
import { ModelLoadError, UnsupportedModelError } from '../errors.js';
import type { ModelConfig, TensorRef, WeightDType } from './model-spec.js';
import { DTYPE_SIZE } from './safetensors.js';
import { weightPrefix } from './families/qwen35-tensors.js';
import { tensorBytes } from './tensor-bytes.js';

/** A fused reference over `parts` (each `partBytes`), concatenated in order when its `data` is read. */
function fusedRef(name: string, shape: number[], parts: TensorRef<WeightDType>[]): TensorRef<WeightDType> {
  const dtype = parts[0]!.dtype;
  const nbytes = shape.reduce((a, d) => a * d, 1) * DTYPE_SIZE[dtype];
  const ref: TensorRef<WeightDType> = { name, file: `${parts[0]!.file.split('#')[0]}#${name}`, offset: 0, nbytes, dtype, shape };
  Object.defineProperty(ref, 'data', {
    enumerable: true,
    get: () => {
      const out = new Uint8Array(nbytes);
      let at = 0;
      for (const p of parts) {
        out.set(tensorBytes(p), at);
        at += p.nbytes;
      }
      return out;
    },
  });
  return ref;
}

/**
 * Replaces, in `tensors`, each layer's per-expert matrices by the fused pair (layers already fused are left alone).
 * Throws ModelLoadError / UnsupportedModelError naming the tensor for a missing expert, a wrong shape or mixed dtypes.
 */
export function fusePerExpertTensors(tensors: Map<string, TensorRef<WeightDType>>, c: ModelConfig): void {
  const m = c.moe;
  if (!m) return;
  const H = c.hiddenSize, Ie = m.moeIntermediateSize, E = m.numExperts;
  for (let i = 0; i < c.nLayers; i++) {
    const p = `${weightPrefix(c)}layers.${i}.mlp.experts.`;
    if (!tensors.has(`${p}0.gate_proj.weight`) || tensors.has(`${p}gate_up_proj`)) continue;
    const first = tensors.get(`${p}0.gate_proj.weight`)!;
    const take = (e: number, proj: string, shape: number[]): TensorRef<WeightDType> => {
      const name = `${p}${e}.${proj}.weight`;
      const t = tensors.get(name);
      if (!t) throw new ModelLoadError(`${first.file}: missing tensor '${name}' (per-expert layout: every expert needs gate, up and down)`, first.file, name);
      if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
        throw new ModelLoadError(`${t.file}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, t.file, name);
      }
      if (t.dtype !== first.dtype) throw new UnsupportedModelError(`${t.file}: tensor '${name}' is ${t.dtype} but '${first.name}' is ${first.dtype}; mixed expert dtypes are not supported`, t.file, name);
      tensors.delete(name);
      return t;
    };
    const gateUp: TensorRef<WeightDType>[] = [];
    const down: TensorRef<WeightDType>[] = [];
    for (let e = 0; e < E; e++) {
      gateUp.push(take(e, 'gate_proj', [Ie, H]), take(e, 'up_proj', [Ie, H]));
      down.push(take(e, 'down_proj', [H, Ie]));
    }
    tensors.set(`${p}gate_up_proj`, fusedRef(`${p}gate_up_proj`, [E, 2 * Ie, H], gateUp));
    tensors.set(`${p}down_proj`, fusedRef(`${p}down_proj`, [E, H, Ie], down));
  }
}
