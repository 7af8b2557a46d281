// sampleRow(row, mask, temperature, topK, topP, minP, u, level?): the next token of one prepared logits row
// (sampling.h), synchronously on the JS thread: the row is overwritten (masked, then weights).
#include <cmath>
#include <string>

#include "../sampling.h"
#include "exports.h"
#include "promise-worker.h"

namespace resident {

namespace {

Napi::Value sample_row_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return error_throw(env, status::argument_error, "sampleRow(row: Float32Array, mask, temperature, topK, topP, minP, u, level?)");
  for (int i = 2; i < 7; i++)
    if (!info[size_t(i)].IsNumber()) return error_throw(env, status::argument_error, "sampleRow: temperature, topK, topP, minP and u are numbers");
  Napi::Float32Array row = info[0].As<Napi::Float32Array>();
  const size_t V = row.ElementLength();
  const sample_params p{info[2].ToNumber().FloatValue(), info[3].ToNumber().Int32Value(), info[4].ToNumber().FloatValue(), info[5].ToNumber().FloatValue()};
  const double u = info[6].ToNumber().DoubleValue();
  if (V < 1 || V > size_t(1) << 30) return error_throw(env, status::argument_error, "sampleRow: the row holds 1 .. 2^30 logits");
  if (!(p.temperature >= 0 && std::isfinite(p.temperature)) || p.top_k < 0 || !(p.top_p > 0 && p.top_p <= 1) || !(p.min_p >= 0 && p.min_p <= 1) || !(u >= 0 && u < 1))
    return error_throw(env, status::argument_error, "sampleRow: temperature ≥ 0, topK ≥ 0, topP in (0, 1], minP in [0, 1], u in [0, 1)");
  const uint32_t* mask = nullptr;
  if (!info[1].IsNull() && !info[1].IsUndefined()) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      return error_throw(env, status::argument_error, "sampleRow: the mask is a Uint32Array or null");
    Napi::Uint32Array m = info[1].As<Napi::Uint32Array>();
    if (m.ElementLength() < (V + 31) / 32) return error_throw(env, status::argument_error, "sampleRow: the mask is shorter than the row");
    mask = m.Data();
  }
  static const kernels* const best = select_kernels("auto");  // CPUID once: a VM traps it
  const std::string level = info.Length() > 7 && info[7].IsString() ? info[7].ToString().Utf8Value() : "auto";
  const kernels* k = level == "auto" ? best : select_kernels(level.c_str());
  if (!k) return error_throw(env, status::argument_error, "sampleRow: unknown kernel level '" + level + "'");
  return Napi::Number::New(env, sample_row(*k, row.Data(), int(V), mask, p, u));
}

}  // namespace

void sample_export_init(Napi::Env env, Napi::Object exports) {
  exports.Set("sampleRow", Napi::Function::New(env, sample_row_js));
}

}  // namespace resident
