// Exports for tests and diagnostics: the kernel levels this CPU runs, one level's matmul run directly, and the
// allocation counter's self-check.
#include <vector>

#include "../kernels.h"
#include "args.h"
#include "exports.h"
#include "promise-worker.h"

namespace resident {

namespace {

// kernelMatmul(level, x: Float32Array [n][k], n, k, w: Uint8Array [rows][k] in dtype (3: q8; 4-8: GGUF blocks), dtype, r0, r1,
// mode?) runs one level's matmul synchronously and returns y: Float32Array [n][rows] (columns outside [r0, r1)
// stay 0). mode true: x rounded to bf16 and the level's matmul_bf16 (bf16 weights; null where the level has none);
// 'packed': pack_bf16 then matmul_bf16_packed, as with weights packed at load; 'panel': block-quant weights through
// quant_panel_x and quant_matmul_panel, the prefill panels (null where the level's panels do not take the type).
Napi::Value kernel_matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !info[0].IsString() || !info[1].IsTypedArray() || !info[4].IsTypedArray())
    return error_throw(env, status::argument_error, "kernelMatmul(level, x, n, k, w, dtype, r0, r1)");
  const kernels* kern = select_kernels(info[0].ToString().Utf8Value().c_str());
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  Napi::TypedArray wa = info[4].As<Napi::TypedArray>();
  const int n = info[2].ToNumber().Int32Value(), k = info[3].ToNumber().Int32Value();
  const uint32_t code = info[5].ToNumber().Uint32Value();
  const dtype wt = code == 3 ? dtype::q8 : dtype_from_code(code);
  const int r0 = info[6].ToNumber().Int32Value(), r1 = info[7].ToNumber().Int32Value();
  const size_t rows = k > 0 && row_bytes(wt, k) > 0 ? wa.ByteLength() / row_bytes(wt, k) : 0;
  if (!kern || n < 1 || k < 1 || k % block_elems(wt) != 0 || x.ElementLength() != size_t(n) * size_t(k) || r0 < 0 || r1 <= r0 || size_t(r1) > rows)
    return error_throw(env, status::argument_error, "kernelMatmul: bad level or shapes");
  const uint8_t* w = static_cast<const uint8_t*>(wa.ArrayBuffer().Data()) + wa.ByteOffset();
  Napi::Float32Array y = Napi::Float32Array::New(env, size_t(n) * rows);
  float* scratch = static_cast<float*>(aligned_alloc_zero(matmul_scratch_floats(k) * 4));  // 64-byte aligned, as in the engine
  const std::string mode = info.Length() > 8 && info[8].IsString() ? info[8].ToString().Utf8Value() : "";
  if (mode == "panel") {
    if (!quant_panel_takes(*kern, wt)) {
      aligned_free(scratch);
      return env.Null();
    }
    std::vector<char> xq(size_t(n) * panel_x_row_bytes(k));
    kern->quant_panel_x(x.Data(), n, k, block_elems(wt), xq.data());
    kern->quant_matmul_panel(xq.data(), n, k, w, wt, r0, r1, y.Data(), int(rows), scratch);
  } else if (info.Length() > 8 && info[8].ToBoolean().Value()) {
    if (!kern->matmul_bf16 || wt != dtype::bf16 || k % 32 != 0) {
      aligned_free(scratch);
      return env.Null();
    }
    std::vector<uint16_t> xb(size_t(n) * size_t(k));
    kern->from_f32(x.Data(), dtype::bf16, xb.data(), xb.size());
    if (info[8].IsString() && info[8].ToString().Utf8Value() == "packed") {  // through panels packed as at load
      if (r0 % bf16_panel_rows != 0) {
        aligned_free(scratch);
        return error_throw(env, status::argument_error, "kernelMatmul: packed weights take r0 % 32 == 0");
      }
      void* wp = aligned_alloc_zero(bf16_packed_bytes(int(rows), k));
      kern->pack_bf16(reinterpret_cast<const uint16_t*>(w), int(rows), k, 0, int((rows + bf16_panel_rows - 1) / bf16_panel_rows), wp);
      kern->matmul_bf16_packed(xb.data(), n, k, wp, int(rows), r0, r1, y.Data(), int(rows));
      aligned_free(wp);
    } else {
      kern->matmul_bf16(xb.data(), n, k, w, r0, r1, y.Data(), int(rows), scratch);
    }
  } else {
    kern->matmul(x.Data(), n, k, w, wt, r0, r1, y.Data(), int(rows), scratch);
  }
  aligned_free(scratch);
  return y;
}

}  // namespace

void test_hooks_init(Napi::Env env, Napi::Object exports) {
  exports.Set("allocCounterProbe", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(alloc_counter_probe()));
  }));
  exports.Set("avx2Available", Napi::Boolean::New(env, kernels_avx2() != nullptr && cpu_has_avx2_fma_f16c()));
  const kernels* levels[3];
  const int n_levels = kernel_levels(levels);
  Napi::Array names = Napi::Array::New(env, size_t(n_levels));
  for (int i = 0; i < n_levels; i++) names.Set(uint32_t(i), Napi::String::New(env, levels[i]->name));
  exports.Set("kernelLevels", names);  // levels this CPU runs, best first
  exports.Set("kernelMatmul", Napi::Function::New(env, kernel_matmul));
  exports.Set("deltaNetTest", Napi::Function::New(env, delta_net_test_js));
  quant_hooks_init(env, exports);
}

}  // namespace resident
