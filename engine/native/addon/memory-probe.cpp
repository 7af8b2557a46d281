// memoryReadRate(mib, threads, reps): Promise<GB/s>, the machine's memory read rate (bandwidth.cpp), which
// `resident bench` measures decode against.
#include "exports.h"
#include "promise-worker.h"

namespace resident {

namespace {

class bandwidth_worker : public promise_worker {
 public:
  bandwidth_worker(Napi::Env env, size_t bytes, int threads, int reps) : promise_worker(env), bytes_(bytes), threads_(threads), reps_(reps) {}

 protected:
  result work() override { return memory_read_rate(bytes_, threads_, reps_, &gbps_); }
  Napi::Value done(Napi::Env env) override { return Napi::Number::New(env, gbps_); }

 private:
  size_t bytes_;
  int threads_, reps_;
  double gbps_ = 0;
};

Napi::Value memory_read_rate_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    return error_throw(env, status::argument_error, "memoryReadRate(mib, threads, reps)");
  auto* w = new bandwidth_worker(env, size_t(info[0].ToNumber().Int64Value()) << 20, info[1].ToNumber().Int32Value(), info[2].ToNumber().Int32Value());
  return w->promise_queue();
}

}  // namespace

void memory_probe_init(Napi::Env env, Napi::Object exports) {
  exports.Set("memoryReadRate", Napi::Function::New(env, memory_read_rate_js));
}

}  // namespace resident
