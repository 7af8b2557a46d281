// Exports for the GGUF block types: quantizing f32 rows (writing quantized models), dequantizing rows (tests),
// whether the CPU has AVX512_VNNI, and a timed matmul loop for kernel read rates.
#include <chrono>
#include <vector>

#include "../kernels.h"
#include "args.h"
#include "exports.h"
#include "promise-worker.h"

namespace resident {

namespace {

bool block_dtype(const Napi::Value& v, dtype* t) {
  if (!v.IsNumber()) return false;
  const uint32_t code = v.ToNumber().Uint32Value();
  if (code < uint32_t(dtype::q8_0) || code > uint32_t(dtype::q6_k)) return false;
  *t = dtype(code);
  return true;
}

// quantizeRows(dtype, x: Float32Array [rows][k], k) → Uint8Array [rows][row_bytes(dtype, k)].
Napi::Value quantize_rows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dtype t;
  if (info.Length() < 3 || !block_dtype(info[0], &t) || !info[1].IsTypedArray() || !info[2].IsNumber())
    return error_throw(env, status::argument_error, "quantizeRows(dtype 4-8, x: Float32Array, k)");
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  const int k = info[2].ToNumber().Int32Value();
  if (k < 1 || k % block_elems(t) != 0 || x.ElementLength() % size_t(k) != 0)
    return error_throw(env, status::argument_error, "quantizeRows: k must be a multiple of the block size and divide x");
  const size_t rows = x.ElementLength() / size_t(k), rb = row_bytes(t, k);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, rows * rb);
  for (size_t r = 0; r < rows; r++) quantize_row(x.Data() + r * size_t(k), k, t, out.Data() + r * rb);
  return out;
}

// dequantizeRows(level, dtype, w: Uint8Array, n) → Float32Array of the first n values (whole blocks) through the level's to_f32.
Napi::Value dequantize_rows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dtype t;
  if (info.Length() < 4 || !info[0].IsString() || !block_dtype(info[1], &t) || !info[2].IsTypedArray() || !info[3].IsNumber())
    return error_throw(env, status::argument_error, "dequantizeRows(level, dtype 4-8, w: Uint8Array, n)");
  const kernels* kern = select_kernels(info[0].ToString().Utf8Value().c_str());
  Napi::TypedArray wa = info[2].As<Napi::TypedArray>();
  const int64_t n = info[3].ToNumber().Int64Value();
  if (!kern || n < 1 || n % block_elems(t) != 0 || size_t(n) / size_t(block_elems(t)) * block_bytes(t) > wa.ByteLength())
    return error_throw(env, status::argument_error, "dequantizeRows: bad level, or n not whole blocks inside w");
  Napi::Float32Array y = Napi::Float32Array::New(env, size_t(n));
  kern->to_f32(static_cast<const uint8_t*>(wa.ArrayBuffer().Data()) + wa.ByteOffset(), t, y.Data(), size_t(n));
  return y;
}

// quantMatmulRate(level, dtype, rows, k, n, reps, panels?) → {seconds, gbps} (null when panels and the level's
// panels do not take dtype): one thread, the level's matmul — with panels, quant_panel_x once then quant_matmul_panel — over a
// random weight of rows × k in dtype (n tokens) repeated reps times; gbps counts weight bytes read per matmul.
Napi::Value quant_matmul_rate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dtype t;
  if (info.Length() < 6 || !info[0].IsString() || !block_dtype(info[1], &t))
    return error_throw(env, status::argument_error, "quantMatmulRate(level, dtype, rows, k, n, reps)");
  const kernels* kern = select_kernels(info[0].ToString().Utf8Value().c_str());
  const int rows = info[2].ToNumber().Int32Value(), k = info[3].ToNumber().Int32Value();
  const int n = info[4].ToNumber().Int32Value(), reps = info[5].ToNumber().Int32Value();
  if (!kern || rows < 1 || k < 1 || k % block_elems(t) != 0 || n < 1 || n > 4096 || reps < 1 || size_t(rows) * size_t(k) > (size_t(1) << 30))
    return error_throw(env, status::argument_error, "quantMatmulRate: bad level or sizes");
  const bool panels = info.Length() > 6 && info[6].ToBoolean().Value();
  if (panels && !quant_panel_takes(*kern, t)) return env.Null();
  const size_t rb = row_bytes(t, k);
  char* w = static_cast<char*>(aligned_alloc_zero(size_t(rows) * rb));
  float* x = static_cast<float*>(aligned_alloc_zero(size_t(n) * size_t(k) * 4));
  float* y = static_cast<float*>(aligned_alloc_zero(size_t(n) * size_t(rows) * 4));
  float* scratch = static_cast<float*>(aligned_alloc_zero(matmul_scratch_floats(k) * 4));
  uint32_t s = 12345;
  auto rnd = [&s]() { s = s * 1664525u + 1013904223u; return float(int32_t(s >> 8) - (1 << 23)) / float(1 << 23); };
  std::vector<float> row(static_cast<size_t>(k));
  for (int r = 0; r < rows; r++) {
    for (float& v : row) v = rnd();
    quantize_row(row.data(), k, t, w + size_t(r) * rb);
  }
  for (size_t i = 0; i < size_t(n) * size_t(k); i++) x[i] = rnd();
  std::vector<char> xq(panels ? size_t(n) * panel_x_row_bytes(k) : 0);
  if (panels) kern->quant_panel_x(x, n, k, block_elems(t), xq.data());
  auto run = [&] {
    if (panels) kern->quant_matmul_panel(xq.data(), n, k, w, t, 0, rows, y, rows, scratch);
    else kern->matmul(x, n, k, w, t, 0, rows, y, rows, scratch);
  };
  run();  // warm
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; i++) run();
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  aligned_free(w), aligned_free(x), aligned_free(y), aligned_free(scratch);
  Napi::Object o = Napi::Object::New(env);
  o.Set("seconds", sec);
  o.Set("gbps", double(rows) * double(rb) * reps / sec / 1e9);
  return o;
}

}  // namespace

void quant_hooks_init(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeRows", Napi::Function::New(env, quantize_rows));
  exports.Set("dequantizeRows", Napi::Function::New(env, dequantize_rows));
  exports.Set("quantMatmulRate", Napi::Function::New(env, quant_matmul_rate));
  exports.Set("avx512Vnni", Napi::Boolean::New(env, cpu_has_avx512_vnni()));
}

}  // namespace resident
