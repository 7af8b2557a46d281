// Test hook: deltaNetTest(args) runs the Gated DeltaNet block (delta-net.h) on the given arrays with a fresh
// thread pool, synchronously. args: { level, mode: 'auto' | 'recurrent' | 'chunked', threads, nKHeads, nVHeads,
// dK, dV, convKernel, normEps, convW [channels][K] (HF layout), aLog, dtBias, normW [dV], seqLens: Int32Array,
// qkv [n][channels], z [n][valueDim], a, b [n][nVHeads], convState [seqs][K - 1][channels],
// state [seqs][nVHeads][dK][dV], reps? } → { out [n][valueDim], convState, state, seconds, cpuSeconds, allocations }.
// reps > 1 repeats the forward on the same inputs with the states carried on (benchmarks); seconds sums the
// forward calls alone, cpuSeconds the calling thread's CPU time in them (the whole work when threads is 1);
// allocations counts heap allocations made during them (must be 0).
#include <napi.h>

#include <chrono>
#include <ctime>
#include <cstring>
#include <memory>
#include <vector>

#include "../delta-net.h"
#include "exports.h"
#include "../kernels.h"
#include "../thread-pool.h"

namespace resident {

namespace {

struct aligned_floats {  // 64-byte aligned copy of a Float32Array (the engine's buffers are aligned)
  float* p = nullptr;
  size_t n = 0;
  explicit aligned_floats(size_t count) : p(static_cast<float*>(aligned_alloc_zero(count * 4))), n(count) {}
  aligned_floats(const aligned_floats&) = delete;
  ~aligned_floats() { aligned_free(p); }
};

Napi::Value fail(Napi::Env env, const std::string& m) {
  Napi::Error e = Napi::Error::New(env, "deltaNetTest: " + m);
  e.Set("code", Napi::String::New(env, "argument_error"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

Napi::Value delta_net_test_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return fail(env, "expects one object argument");
  const Napi::Object a = info[0].As<Napi::Object>();
  auto num = [&](const char* k, double dflt) { return a.Has(k) && a.Get(k).IsNumber() ? a.Get(k).ToNumber().DoubleValue() : dflt; };
  auto f32 = [&](const char* k) { return a.Has(k) && a.Get(k).IsTypedArray() ? a.Get(k).As<Napi::Float32Array>() : Napi::Float32Array(); };

  delta_net_shape s;
  s.n_k_heads = int(num("nKHeads", 0)), s.n_v_heads = int(num("nVHeads", 0)), s.d_k = int(num("dK", 0)), s.d_v = int(num("dV", 0));
  s.conv_kernel = int(num("convKernel", 4)), s.norm_eps = float(num("normEps", 1e-6));
  if (result r = delta_net_check(s); !r) return fail(env, r.message);
  const std::string level = a.Has("level") ? a.Get("level").ToString().Utf8Value() : "auto";
  const kernels* kern = select_kernels(level.c_str());
  if (!kern) return fail(env, "unknown level " + level);
  const std::string mode_name = a.Has("mode") ? a.Get("mode").ToString().Utf8Value() : "auto";
  const delta_net_mode mode = mode_name == "recurrent" ? delta_net_mode::recurrent
                              : mode_name == "chunked" ? delta_net_mode::chunked
                                                       : delta_net_mode::automatic;
  const int threads = int(num("threads", 1)), reps = int(num("reps", 1));
  if (threads < 1 || threads > 64 || reps < 1) return fail(env, "threads in [1, 64], reps >= 1");
  if (!a.Has("seqLens") || !a.Get("seqLens").IsTypedArray()) return fail(env, "seqLens: Int32Array");
  const Napi::Int32Array lens = a.Get("seqLens").As<Napi::Int32Array>();
  const int n_seqs = int(lens.ElementLength());
  std::vector<delta_net_seq> seqs;
  seqs.resize(size_t(n_seqs));
  int n = 0;
  for (int i = 0; i < n_seqs; i++) {
    if (lens[size_t(i)] < 0) return fail(env, "negative sequence length");
    seqs[size_t(i)].row0 = n, seqs[size_t(i)].n = lens[size_t(i)], n += lens[size_t(i)];
  }
  const size_t ch = size_t(s.conv_channels()), vd = size_t(s.value_dim()), nv = size_t(s.n_v_heads), K = size_t(s.conv_kernel);
  const size_t cs = delta_net_conv_state_floats(s), ss = delta_net_state_floats(s);
  struct want { const char* key; size_t count; };
  const want wants[] = {{"convW", ch * K}, {"aLog", nv}, {"dtBias", nv}, {"normW", size_t(s.d_v)}, {"qkv", size_t(n) * ch},
                        {"z", size_t(n) * vd}, {"a", size_t(n) * nv}, {"b", size_t(n) * nv},
                        {"convState", size_t(n_seqs) * cs}, {"state", size_t(n_seqs) * ss}};
  for (const want& w : wants)
    if (f32(w.key).IsEmpty() || f32(w.key).ElementLength() != w.count)
      return fail(env, std::string(w.key) + ": Float32Array of " + std::to_string(w.count) + " floats");
  auto copy = [&](const char* key) {
    Napi::Float32Array src = f32(key);
    auto* buf = new aligned_floats(src.ElementLength());
    std::memcpy(buf->p, src.Data(), src.ElementLength() * 4);
    return std::unique_ptr<aligned_floats>(buf);
  };
  auto qkv_in = copy("qkv"), z = copy("z"), av = copy("a"), bv = copy("b"), conv_state = copy("convState"), state = copy("state");
  auto conv_hf = copy("convW"), a_log = copy("aLog"), dt_bias = copy("dtBias"), norm_w = copy("normW");
  aligned_floats conv_w(ch * K), qkv(size_t(n) * ch), out(size_t(n) * vd);
  delta_net_pack_conv(conv_hf->p, int(ch), int(K), conv_w.p);
  for (int i = 0; i < n_seqs; i++) {
    seqs[size_t(i)].conv_state = conv_state->p + size_t(i) * cs;
    seqs[size_t(i)].state = state->p + size_t(i) * ss;
  }
  const delta_net_layer w{conv_w.p, a_log->p, dt_bias->p, norm_w->p};
  delta_net_io io;
  io.qkv = qkv.p, io.z = z->p, io.a = av->p, io.b = bv->p, io.out = out.p;
  io.ld_qkv = int(ch), io.ld_z = int(vd), io.ld_a = int(nv), io.ld_b = int(nv), io.ld_out = int(vd);

  thread_pool pool(threads);
  std::vector<std::unique_ptr<aligned_floats>> scratch;
  std::vector<float*> scratch_ptrs;
  for (int t = 0; t < threads; t++) {
    scratch.emplace_back(new aligned_floats(delta_net_scratch_floats(s, mode)));
    scratch_ptrs.push_back(scratch.back()->p);
  }
  double seconds = 0, cpu_seconds = 0;
  uint64_t allocations = 0;
  auto thread_cpu = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  };
  for (int r = 0; r < reps; r++) {
    std::memcpy(qkv.p, qkv_in->p, qkv.n * 4);  // the block overwrites qkv with the conv output
    const uint64_t before = g_forward_allocations.load();
    const bool prev = t_count_allocations;
    t_count_allocations = true;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu();
    delta_net_forward(pool, *kern, s, w, io, seqs.data(), n_seqs, scratch_ptrs.data(), mode);
    cpu_seconds += thread_cpu() - c0;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t_count_allocations = prev;
    allocations += g_forward_allocations.load() - before;
  }
  auto to_js = [&](const aligned_floats& b) {
    Napi::Float32Array r = Napi::Float32Array::New(env, b.n);
    std::memcpy(r.Data(), b.p, b.n * 4);
    return r;
  };
  Napi::Object res = Napi::Object::New(env);
  res.Set("out", to_js(out));
  res.Set("convState", to_js(*conv_state));
  res.Set("state", to_js(*state));
  res.Set("seconds", Napi::Number::New(env, seconds));
  res.Set("cpuSeconds", Napi::Number::New(env, cpu_seconds));
  res.Set("allocations", Napi::Number::New(env, double(allocations)));
  return res;
}

}  // namespace resident
