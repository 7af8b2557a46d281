// JS arguments to engine types: the model config, engine options and tensor list of loadModel, and dtype codes.
// Each parse fills its output or returns a failed result (argument_error) naming the field.
#pragma once
#include <napi.h>

#include <vector>

#include "../model-config.h"
#include "../weight-store.h"

namespace resident {

// dtype codes of engine/native.ts: 0 f32, 1 f16, 2 bf16; others read as f32 (3, q8, only in kernelMatmul).
dtype dtype_from_code(uint32_t code);

// {vocab, hidden, nLayer, nHead, nKvHead, headDim, inter, eps, ropeTheta, tied,
//  arch?: string (absent: 'qwen3'),
//  moe?: {nExpert, nExpertUsed, moeInter, normTopk, layers: 0/1 per layer},
//  layerTypes?: ('full_attention' | 'linear_attention')[] (absent: every layer full attention),
//  linearAttention?: {convKernel, nKeyHeads, nValueHeads, keyHeadDim, valueHeadDim}}
result config_parse(Napi::Object c, model_config* cfg);
// {threads, maxTokens, portable?, kernels?, int8?, bf16Activations?}
result options_parse(Napi::Object o, engine_options* opt);
// [{name, file, offset, nbytes, dtype, shape}]
result tensors_parse(Napi::Array arr, std::vector<tensor_desc>* tensors);

}  // namespace resident
