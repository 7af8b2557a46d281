// N-API door of the engine: Model and Slot object wraps; long work (load, forward, KV copies) runs in
// AsyncWorkers returning Promises. Errors reject with an Error whose `code` names the status.
#include <napi.h>

#include <set>

#include "model.h"

using namespace resident;
namespace resident { Napi::Value delta_net_test_js(const Napi::CallbackInfo& info); }  // delta-net-hook.cpp

namespace {

const char* status_name(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::load_error: return "load_error";
    case status::unsupported: return "unsupported";
    case status::argument_error: return "argument_error";
    case status::capacity_error: return "capacity_error";
    case status::disposed: return "disposed";
    default: return "internal_error";
  }
}

Napi::Error make_error(Napi::Env env, const result& r) {
  Napi::Error e = Napi::Error::New(env, r.message);
  e.Set("code", Napi::String::New(env, status_name(r.code)));
  return e;
}

Napi::Value throw_error(Napi::Env env, status s, const std::string& msg) {
  make_error(env, result::fail(s, msg)).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Base worker: runs `work` off the JS thread, then resolves (value from `done`) or rejects.
class promise_worker : public Napi::AsyncWorker {
 public:
  explicit promise_worker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  virtual result work() = 0;
  virtual Napi::Value done(Napi::Env env) { return env.Undefined(); }
  virtual void release() {}
  void Execute() override { result_ = work(); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    release();
    if (result_) deferred_.Resolve(done(env));
    else deferred_.Reject(make_error(env, result_).Value());
  }
  void OnError(const Napi::Error& e) override {
    release();
    deferred_.Reject(e.Value());
  }
  result result_;
  Napi::Promise::Deferred deferred_;
};

class SlotWrap;

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::FunctionReference ctor;
  static void init(Napi::Env env, Napi::Object exports);
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}
  ~ModelWrap() override { destroy(); }

  model* m = nullptr;
  int busy = 0;              // async operations in flight (JS thread only)
  bool dispose_pending = false;
  std::set<SlotWrap*> slots;
  void destroy();
  void release_busy() {
    if (--busy == 0 && dispose_pending) destroy();
  }

 private:
  Napi::Value forward(const Napi::CallbackInfo& info);
  Napi::Value create_slot(const Napi::CallbackInfo& info);
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value expert_stats(const Napi::CallbackInfo& info);
  Napi::Value reset_expert_stats(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
};
Napi::FunctionReference ModelWrap::ctor;

class SlotWrap : public Napi::ObjectWrap<SlotWrap> {
 public:
  static Napi::FunctionReference ctor;
  static void init(Napi::Env env, Napi::Object exports);
  explicit SlotWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SlotWrap>(info) {}
  ~SlotWrap() override {
    if (owner) owner->slots.erase(this);
    destroy();
  }

  kv_slot* s = nullptr;
  ModelWrap* owner = nullptr;
  Napi::ObjectReference owner_ref;  // keeps the model alive while the slot lives
  int busy = 0;
  bool dispose_pending = false;
  void destroy() {
    delete s;
    s = nullptr;
  }
  void release_busy() {
    if (--busy == 0 && dispose_pending) destroy();
  }
  bool usable(Napi::Env env) {
    if (s && !dispose_pending && owner && owner->m && !owner->dispose_pending) return true;
    throw_error(env, status::disposed, "the KV slot (or its model) was disposed");
    return false;
  }
  // Operations on different slots may overlap; on the same slot they must not.
  bool idle(Napi::Env env) {
    if (busy == 0) return true;
    throw_error(env, status::argument_error, "the KV slot is busy: an earlier forward or KV operation on it has not finished");
    return false;
  }

 private:
  Napi::Value length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s ? double(s->length) : 0); }
  Napi::Value capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s ? double(s->capacity) : 0); }
  Napi::Value tokens_forwarded(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), s ? double(s->tokens_forwarded) : 0);
  }
  Napi::Value bytes_per_token(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), s ? double(s->bytes_per_token()) : 0);
  }
  Napi::Value resident_bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), s ? double(s->committed_bytes()) : 0);
  }
  Napi::Value truncate(const Napi::CallbackInfo& info);
  Napi::Value recycle(const Napi::CallbackInfo& info);
  Napi::Value copy_from(const Napi::CallbackInfo& info);
  Napi::Value read_kv(const Napi::CallbackInfo& info);
  Napi::Value write_kv(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
};
Napi::FunctionReference SlotWrap::ctor;

void ModelWrap::destroy() {
  for (SlotWrap* sw : slots) {
    sw->destroy();
    sw->owner = nullptr;
  }
  slots.clear();
  delete m;
  m = nullptr;
}

// Holds the model and slots busy while a worker runs; releases them on the JS thread when done.
struct busy_guard {
  ModelWrap* model;
  std::vector<SlotWrap*> slots;
  std::vector<Napi::ObjectReference> refs;  // keep JS objects (slots, buffers) alive
  void hold(SlotWrap* s) {
    s->busy++;
    slots.push_back(s);
    refs.push_back(Napi::Persistent(s->Value()));
  }
  void keep(Napi::Object o) { refs.push_back(Napi::Persistent(o)); }
  void release() {
    for (SlotWrap* s : slots) s->release_busy();
    slots.clear();
    refs.clear();
    if (model) model->release_busy();
    model = nullptr;
  }
};

class load_worker : public promise_worker {
 public:
  load_worker(Napi::Env env, model_config c, std::vector<tensor_desc> t, engine_options o)
      : promise_worker(env), cfg_(c), tensors_(std::move(t)), opt_(o) {}

 protected:
  result work() override { return model::load(cfg_, tensors_, opt_, &m_); }
  Napi::Value done(Napi::Env env) override {
    Napi::Object obj = ModelWrap::ctor.New({});
    ModelWrap::Unwrap(obj)->m = m_;
    m_ = nullptr;
    return obj;
  }
  ~load_worker() override { delete m_; }

 private:
  model_config cfg_;
  std::vector<tensor_desc> tensors_;
  engine_options opt_;
  model* m_ = nullptr;
};

class forward_worker : public promise_worker {
 public:
  forward_worker(Napi::Env env, ModelWrap* mw) : promise_worker(env) { guard.model = mw; mw->busy++; }
  busy_guard guard;
  std::vector<seq_entry> seqs;
  batch b;

 protected:
  result work() override { return guard.model->m->forward(b); }
  void release() override { guard.release(); }
};

class slot_worker : public promise_worker {  // copy / read / write of raw KV
 public:
  enum kind { copy, read, write };
  slot_worker(Napi::Env env, ModelWrap* mw, kind k) : promise_worker(env), k_(k) { guard.model = mw; mw->busy++; }
  busy_guard guard;
  kv_slot *dst = nullptr, *src = nullptr;
  size_t start = 0, end = 0;
  char* data = nullptr;
  Napi::ObjectReference buffer;

 protected:
  result work() override {
    switch (k_) {
      case copy: return dst->copy_from(*src, end);
      case read: return dst->read_range(start, end, data);
      default: return dst->write_range(start, end - start, data);
    }
  }
  Napi::Value done(Napi::Env env) override { return k_ == read ? buffer.Value() : env.Undefined(); }
  void release() override { guard.release(); }

 private:
  kind k_;
};

dtype dtype_from(uint32_t v) { return v == 1 ? dtype::f16 : v == 2 ? dtype::bf16 : dtype::f32; }

Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsObject())
    return throw_error(env, status::argument_error, "loadModel(config, tensors, options)");
  Napi::Object c = info[0].As<Napi::Object>(), o = info[2].As<Napi::Object>();
  auto num = [](Napi::Object obj, const char* k) { return obj.Get(k).ToNumber().DoubleValue(); };
  model_config cfg;
  cfg.vocab = int(num(c, "vocab")); cfg.hidden = int(num(c, "hidden")); cfg.n_layer = int(num(c, "nLayer"));
  cfg.n_head = int(num(c, "nHead")); cfg.n_kv_head = int(num(c, "nKvHead")); cfg.head_dim = int(num(c, "headDim"));
  cfg.inter = int(num(c, "inter")); cfg.eps = float(num(c, "eps")); cfg.rope_theta = float(num(c, "ropeTheta"));
  cfg.tied = c.Get("tied").ToBoolean().Value();
  if (c.Has("moe") && c.Get("moe").IsObject()) {  // {nExpert, nExpertUsed, moeInter, normTopk, layers: 0/1 per layer}
    Napi::Object moe = c.Get("moe").As<Napi::Object>();
    cfg.n_expert = int(num(moe, "nExpert")); cfg.n_expert_used = int(num(moe, "nExpertUsed"));
    cfg.moe_inter = int(num(moe, "moeInter")); cfg.norm_topk = moe.Get("normTopk").ToBoolean().Value();
    if (!moe.Get("layers").IsArray()) return throw_error(env, status::argument_error, "config.moe.layers must be an array");
    Napi::Array layers = moe.Get("layers").As<Napi::Array>();
    for (uint32_t i = 0; i < layers.Length(); i++) cfg.moe_layer.push_back(layers.Get(i).ToBoolean().Value() ? 1 : 0);
  }
  engine_options opt;
  opt.threads = int(num(o, "threads")); opt.max_tokens = int(num(o, "maxTokens"));
  opt.portable = o.Get("portable").ToBoolean().Value();
  if (o.Get("kernels").IsString()) opt.kernels = o.Get("kernels").ToString().Utf8Value();
  opt.int8 = o.Get("int8").ToBoolean().Value();
  opt.bf16_activations = o.Get("bf16Activations").ToBoolean().Value();
  std::vector<tensor_desc> tensors;
  Napi::Array arr = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object t = arr.Get(i).As<Napi::Object>();
    tensor_desc d;
    d.name = t.Get("name").ToString().Utf8Value();
    d.file = t.Get("file").ToString().Utf8Value();
    d.offset = size_t(num(t, "offset"));
    d.nbytes = size_t(num(t, "nbytes"));
    d.type = dtype_from(t.Get("dtype").ToNumber().Uint32Value());
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); j++) d.shape.push_back(int64_t(shape.Get(j).ToNumber().DoubleValue()));
    tensors.push_back(std::move(d));
  }
  auto* w = new load_worker(env, cfg, std::move(tensors), opt);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

void ModelWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Model", {
      InstanceMethod("forward", &ModelWrap::forward),
      InstanceMethod("createSlot", &ModelWrap::create_slot),
      InstanceMethod("info", &ModelWrap::info),
      InstanceMethod("expertStats", &ModelWrap::expert_stats),
      InstanceMethod("resetExpertStats", &ModelWrap::reset_expert_stats),
      InstanceMethod("dispose", &ModelWrap::dispose),
  });
  ctor = Napi::Persistent(f);
  exports.Set("Model", f);
}

// forward(slots: Slot[], counts: Int32Array, tokens: Int32Array, logitRows: Int32Array, logits: Float32Array)
Napi::Value ModelWrap::forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m || dispose_pending) return throw_error(env, status::disposed, "the model was disposed");
  if (info.Length() < 5 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsTypedArray())
    return throw_error(env, status::argument_error, "forward(slots, counts, tokens, logitRows, logits)");
  Napi::Array slots = info[0].As<Napi::Array>();
  Napi::Int32Array counts = info[1].As<Napi::Int32Array>(), tokens = info[2].As<Napi::Int32Array>(),
                   rows = info[3].As<Napi::Int32Array>();
  Napi::Float32Array logits = info[4].As<Napi::Float32Array>();
  if (counts.ElementLength() != slots.Length())
    return throw_error(env, status::argument_error, "one count per slot is required");
  if (logits.ElementLength() < rows.ElementLength() * size_t(m->cfg.vocab))
    return throw_error(env, status::argument_error, "logits buffer too small");
  auto* w = new forward_worker(env, this);
  int offset = 0;
  for (uint32_t i = 0; i < slots.Length(); i++) {
    Napi::Value v = slots.Get(i);
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(SlotWrap::ctor.Value())) {
      w->guard.release();
      delete w;
      return throw_error(env, status::argument_error, "forward: slots[" + std::to_string(i) + "] is not a KV slot");
    }
    SlotWrap* sw = SlotWrap::Unwrap(v.As<Napi::Object>());
    if (!sw->usable(env) || sw->owner != this || !sw->idle(env)) {
      w->guard.release();
      delete w;
      if (sw->s && sw->owner != this) return throw_error(env, status::argument_error, "forward: a slot of another model");
      return env.Undefined();
    }
    w->guard.hold(sw);
    w->seqs.push_back({sw->s, offset, counts[i]});
    offset += counts[i];
  }
  if (size_t(offset) != tokens.ElementLength()) {
    w->guard.release();
    delete w;
    return throw_error(env, status::argument_error, "counts must sum to the number of tokens");
  }
  w->guard.keep(tokens); w->guard.keep(rows); w->guard.keep(logits);
  w->b.tokens = tokens.Data();
  w->b.n_tokens = offset;
  w->b.seqs = w->seqs.data();
  w->b.n_seqs = int(w->seqs.size());
  w->b.logit_rows = rows.Data();
  w->b.n_logits = int(rows.ElementLength());
  w->b.logits = logits.Data();
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value ModelWrap::create_slot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m || dispose_pending) return throw_error(env, status::disposed, "the model was disposed");
  double cap = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  if (!(cap >= 1) || cap > 1e12) return throw_error(env, status::argument_error, "slot capacity must be a positive number of positions");
  kv_slot* s = nullptr;
  result r = m->slot_create(size_t(cap), dtype_from(info.Length() > 1 ? info[1].ToNumber().Uint32Value() : 1), &s);
  if (!r) {
    make_error(env, r).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object obj = SlotWrap::ctor.New({});
  SlotWrap* sw = SlotWrap::Unwrap(obj);
  sw->s = s;
  sw->owner = this;
  sw->owner_ref = Napi::Persistent(Value());
  slots.insert(sw);
  return obj;
}

Napi::Value ModelWrap::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m) return throw_error(env, status::disposed, "the model was disposed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernels", m->kern->name);
  o.Set("threads", m->threads());
  o.Set("int8", m->int8());
  o.Set("bf16Activations", m->bf16_activations());
  o.Set("bf16Dot", m->bf16_activations() && m->kern->matmul_bf16 != nullptr);  // vdpbf16ps, not rounded f32
  o.Set("packedWeights", m->packed_weights());
  o.Set("maxTokens", m->max_tokens());
  o.Set("forwardCalls", double(m->forward_calls));
  o.Set("tokensProcessed", double(m->tokens_processed));
  o.Set("forwardAllocations", double(g_forward_allocations.load()));
  return o;
}

// expertStats() → {nExpert, layers: Int32Array (MoE layer indices), counts, stepCounts, stepBytes:
// Float64Array [layers.length][nExpert]}; null for a dense model.
Napi::Value ModelWrap::expert_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m) return throw_error(env, status::disposed, "the model was disposed");
  const int E = m->cfg.n_expert, NL = m->cfg.n_layer;
  if (E <= 0) return env.Null();
  const size_t LE = size_t(NL) * size_t(E);
  std::vector<uint64_t> total(LE), step(LE), bytes(LE);
  m->read_expert_stats(total.data(), step.data(), bytes.data());
  int n_moe = 0;
  for (int l = 0; l < NL; l++) n_moe += m->cfg.moe_layer[size_t(l)] ? 1 : 0;
  Napi::Int32Array layers = Napi::Int32Array::New(env, size_t(n_moe));
  Napi::Float64Array c = Napi::Float64Array::New(env, size_t(n_moe) * E), sc = Napi::Float64Array::New(env, size_t(n_moe) * E),
                     sb = Napi::Float64Array::New(env, size_t(n_moe) * E);
  for (int l = 0, i = 0; l < NL; l++) {
    if (!m->cfg.moe_layer[size_t(l)]) continue;
    layers[size_t(i)] = l;
    for (int e = 0; e < E; e++) {
      const size_t src = size_t(l) * E + e, dst = size_t(i) * E + e;
      c[dst] = double(total[src]);
      sc[dst] = double(step[src]);
      sb[dst] = double(bytes[src]);
    }
    i++;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("nExpert", E);
  o.Set("layers", layers);
  o.Set("counts", c);
  o.Set("stepCounts", sc);
  o.Set("stepBytes", sb);
  return o;
}

Napi::Value ModelWrap::reset_expert_stats(const Napi::CallbackInfo& info) {
  if (!m) return throw_error(info.Env(), status::disposed, "the model was disposed");
  m->reset_expert_stats();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::dispose(const Napi::CallbackInfo& info) {
  if (busy > 0) dispose_pending = true;
  else destroy();
  return info.Env().Undefined();
}

void SlotWrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Slot", {
      InstanceAccessor("length", &SlotWrap::length, nullptr),
      InstanceAccessor("capacity", &SlotWrap::capacity, nullptr),
      InstanceAccessor("bytesPerToken", &SlotWrap::bytes_per_token, nullptr),
      InstanceAccessor("tokensForwarded", &SlotWrap::tokens_forwarded, nullptr),
      InstanceMethod("residentBytes", &SlotWrap::resident_bytes),
      InstanceMethod("truncate", &SlotWrap::truncate),
      InstanceMethod("recycle", &SlotWrap::recycle),
      InstanceMethod("copyFrom", &SlotWrap::copy_from),
      InstanceMethod("readKv", &SlotWrap::read_kv),
      InstanceMethod("writeKv", &SlotWrap::write_kv),
      InstanceMethod("dispose", &SlotWrap::dispose),
  });
  ctor = Napi::Persistent(f);
  exports.Set("Slot", f);
}

Napi::Value SlotWrap::truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (busy > 0) return throw_error(env, status::argument_error, "cannot truncate a KV slot while an operation on it runs");
  double n = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : -1;
  if (!(n >= 0)) return throw_error(env, status::argument_error, "truncate(n): n must be >= 0");
  result r = s->truncate(size_t(n));
  if (!r) make_error(env, r).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SlotWrap::recycle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (busy > 0) return throw_error(env, status::argument_error, "cannot recycle a KV slot while an operation on it runs");
  s->recycle();
  return env.Undefined();
}

Napi::Value SlotWrap::copy_from(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(ctor.Value()))
    return throw_error(env, status::argument_error, "copyFrom(srcSlot, n)");
  SlotWrap* src = Unwrap(info[0].As<Napi::Object>());
  if (!src->usable(env) || !idle(env) || !src->idle(env)) return env.Undefined();
  if (src == this) return throw_error(env, status::argument_error, "copyFrom: a slot cannot copy from itself");
  auto* w = new slot_worker(env, owner, slot_worker::copy);
  w->guard.hold(this);
  w->guard.hold(src);
  w->dst = s;
  w->src = src->s;
  w->end = size_t(std::max(0.0, info[1].ToNumber().DoubleValue()));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value SlotWrap::read_kv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  double a = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : -1, b = info.Length() > 1 ? info[1].ToNumber().DoubleValue() : -1;
  if (!(a >= 0) || !(b >= a) || b > double(s->length))
    return throw_error(env, status::capacity_error, "readKv(start, end): range outside the slot's " + std::to_string(s->length) + " positions");
  const size_t bytes = s->range_bytes(size_t(b - a));
  Napi::Object out;  // the caller's Uint8Array (reused across reads: no fresh pages per chunk) or a new Buffer
  char* data = nullptr;
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    Napi::TypedArray into = info[2].As<Napi::TypedArray>();
    if (into.ByteLength() != bytes)
      return throw_error(env, status::argument_error, "readKv: destination holds " + std::to_string(into.ByteLength()) + " bytes, the range " + std::to_string(bytes));
    data = static_cast<char*>(into.ArrayBuffer().Data()) + into.ByteOffset();
    out = into;
  } else {
    Napi::Buffer<char> buf = Napi::Buffer<char>::New(env, bytes);
    data = buf.Data();
    out = buf;
  }
  auto* w = new slot_worker(env, owner, slot_worker::read);
  w->guard.hold(this);
  w->dst = s;
  w->start = size_t(a);
  w->end = size_t(b);
  w->data = data;
  w->buffer = Napi::Persistent(out);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value SlotWrap::write_kv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray()) return throw_error(env, status::argument_error, "writeKv(start, data: Uint8Array)");
  double a = info[0].ToNumber().DoubleValue();
  Napi::TypedArray data = info[1].As<Napi::TypedArray>();
  const size_t bpt = s->bytes_per_token(), bytes = data.ByteLength();
  if (bytes % bpt != 0) return throw_error(env, status::argument_error, "writeKv: data is not a whole number of positions");
  if (!(a >= 0) || a > double(s->length)) return throw_error(env, status::capacity_error, "writeKv: start must be within [0, length]");
  auto* w = new slot_worker(env, owner, slot_worker::write);
  w->guard.hold(this);
  w->guard.keep(data);
  w->dst = s;
  w->start = size_t(a);
  w->end = size_t(a) + bytes / bpt;
  w->data = static_cast<char*>(data.ArrayBuffer().Data()) + data.ByteOffset();
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value SlotWrap::dispose(const Napi::CallbackInfo& info) {
  if (busy > 0) {
    dispose_pending = true;
  } else {
    destroy();
    if (owner) owner->slots.erase(this);
    owner = nullptr;
    owner_ref.Reset();
  }
  return info.Env().Undefined();
}

// Test hook: kernelMatmul(level, x: Float32Array [n][k], n, k, w: Uint8Array [rows][k] in dtype (3: q8), dtype, r0, r1,
// bf16x?) runs one level's matmul synchronously and returns y: Float32Array [n][rows] (columns outside [r0, r1)
// stay 0). bf16x: x rounded to bf16 and the level's matmul_bf16 (bf16 weights; null where the level has none);
// 'packed': its pack_bf16 then matmul_bf16_packed, as with weights packed at load.
Napi::Value kernel_matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !info[0].IsString() || !info[1].IsTypedArray() || !info[4].IsTypedArray())
    return throw_error(env, status::argument_error, "kernelMatmul(level, x, n, k, w, dtype, r0, r1)");
  const kernels* kern = select_kernels(info[0].ToString().Utf8Value().c_str());
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  Napi::TypedArray wa = info[4].As<Napi::TypedArray>();
  const int n = info[2].ToNumber().Int32Value(), k = info[3].ToNumber().Int32Value();
  const uint32_t code = info[5].ToNumber().Uint32Value();
  const dtype wt = code == 3 ? dtype::q8 : dtype_from(code);
  const int r0 = info[6].ToNumber().Int32Value(), r1 = info[7].ToNumber().Int32Value();
  const size_t rows = k > 0 && row_bytes(wt, k) > 0 ? wa.ByteLength() / row_bytes(wt, k) : 0;
  if (!kern || n < 1 || k < 1 || (wt == dtype::q8 && k % q8_block != 0) || x.ElementLength() != size_t(n) * size_t(k) || r0 < 0 || r1 <= r0 || size_t(r1) > rows)
    return throw_error(env, status::argument_error, "kernelMatmul: bad level or shapes");
  const uint8_t* w = static_cast<const uint8_t*>(wa.ArrayBuffer().Data()) + wa.ByteOffset();
  Napi::Float32Array y = Napi::Float32Array::New(env, size_t(n) * rows);
  float* scratch = static_cast<float*>(aligned_alloc_zero(matmul_scratch_floats(k) * 4));  // 64-byte aligned, as in the engine
  if (info.Length() > 8 && info[8].ToBoolean().Value()) {
    if (!kern->matmul_bf16 || wt != dtype::bf16 || k % 32 != 0) {
      aligned_free(scratch);
      return env.Null();
    }
    std::vector<uint16_t> xb(size_t(n) * size_t(k));
    kern->from_f32(x.Data(), dtype::bf16, xb.data(), xb.size());
    if (info[8].IsString() && info[8].ToString().Utf8Value() == "packed") {  // through panels packed as at load
      if (r0 % bf16_panel_rows != 0) {
        aligned_free(scratch);
        return throw_error(env, status::argument_error, "kernelMatmul: packed weights take r0 % 32 == 0");
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

// memoryReadRate(mib, threads, reps): Promise<GB/s>, the machine's memory read rate (bench's limit row).
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
    return throw_error(env, status::argument_error, "memoryReadRate(mib, threads, reps)");
  auto* w = new bandwidth_worker(env, size_t(info[0].ToNumber().Int64Value()) << 20, info[1].ToNumber().Int32Value(), info[2].ToNumber().Int32Value());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
  ModelWrap::init(env, exports);
  SlotWrap::init(env, exports);
  exports.Set("loadModel", Napi::Function::New(env, load_model));
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
  exports.Set("memoryReadRate", Napi::Function::New(env, memory_read_rate_js));
  return exports;
}

}  // namespace

NODE_API_MODULE(resident_engine, init_addon)
