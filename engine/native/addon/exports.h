// The parts of the addon's exports that are not wrapped objects; module.cpp calls each once at load.
#pragma once
#include <napi.h>

namespace resident {

// kernelLevels, avx2Available, kernelMatmul, allocCounterProbe (test-hooks.cpp).
void test_hooks_init(Napi::Env env, Napi::Object exports);
// deltaNetTest (delta-net-hook.cpp): one Gated DeltaNet layer on given arrays.
Napi::Value delta_net_test_js(const Napi::CallbackInfo& info);
// quantizeRows, dequantizeRows, avx512Vnni, quantMatmulRate (quant-hooks.cpp).
void quant_hooks_init(Napi::Env env, Napi::Object exports);
// sampleRow (sample-export.cpp): the next token of a prepared logits row.
void sample_export_init(Napi::Env env, Napi::Object exports);
// memoryReadRate (memory-probe.cpp).
void memory_probe_init(Napi::Env env, Napi::Object exports);

}  // namespace resident
