#include "model-wrap.h"

#include "args.h"
#include "promise-worker.h"
#include "slot-wrap.h"

namespace resident {

Napi::FunctionReference model_wrap::ctor;

void model_wrap::destroy() {
  for (slot_wrap* sw : slots) {
    sw->destroy();
    sw->owner = nullptr;
  }
  slots.clear();
  delete m;
  m = nullptr;
}

void model_wrap::release_busy() {
  if (--busy == 0 && dispose_pending) destroy();
}

void busy_guard::hold(model_wrap* m) {
  model = m;
  m->busy++;
}

void busy_guard::hold(slot_wrap* s) {
  s->busy++;
  slots.push_back(s);
  refs.push_back(Napi::Persistent(s->Value()));
}

void busy_guard::release() {
  for (slot_wrap* s : slots) s->release_busy();
  slots.clear();
  refs.clear();
  if (model) model->release_busy();
  model = nullptr;
}

namespace {

class load_worker : public promise_worker {
 public:
  load_worker(Napi::Env env, model_config c, std::vector<tensor_desc> t, engine_options o)
      : promise_worker(env), cfg_(std::move(c)), tensors_(std::move(t)), opt_(std::move(o)) {}
  ~load_worker() override { delete m_; }

 protected:
  result work() override { return model::load(cfg_, tensors_, opt_, &m_); }
  Napi::Value done(Napi::Env env) override {
    Napi::Object obj = model_wrap::ctor.New({});
    model_wrap::Unwrap(obj)->m = m_;
    m_ = nullptr;
    return obj;
  }

 private:
  model_config cfg_;
  std::vector<tensor_desc> tensors_;
  engine_options opt_;
  model* m_ = nullptr;
};

class forward_worker : public promise_worker {
 public:
  forward_worker(Napi::Env env, model_wrap* mw) : promise_worker(env) { guard.hold(mw); }
  busy_guard guard;
  std::vector<seq_entry> seqs;
  batch b;

 protected:
  result work() override { return guard.model->m->forward(b); }
  void release() override { guard.release(); }
};

// loadModel(config, tensors, options): Promise<Model>; see args.h for the shapes.
Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsObject())
    return error_throw(env, status::argument_error, "loadModel(config, tensors, options)");
  model_config cfg;
  engine_options opt;
  std::vector<tensor_desc> tensors;
  result r;
  if (!(r = config_parse(info[0].As<Napi::Object>(), &cfg)) || !(r = options_parse(info[2].As<Napi::Object>(), &opt)) ||
      !(r = tensors_parse(info[1].As<Napi::Array>(), &tensors)))
    return error_throw(env, r.code, r.message);
  return (new load_worker(env, std::move(cfg), std::move(tensors), std::move(opt)))->promise_queue();
}

}  // namespace

void model_wrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Model", {
      InstanceMethod("forward", &model_wrap::forward),
      InstanceMethod("createSlot", &model_wrap::slot_create),
      InstanceMethod("info", &model_wrap::info),
      InstanceMethod("expertStats", &model_wrap::expert_stats),
      InstanceMethod("resetExpertStats", &model_wrap::expert_stats_reset),
      InstanceMethod("dispose", &model_wrap::dispose),
  });
  ctor = Napi::Persistent(f);
  exports.Set("Model", f);
  exports.Set("loadModel", Napi::Function::New(env, load_model));
}

// forward(slots: Slot[], counts: Int32Array, tokens: Int32Array, logitRows: Int32Array, logits: Float32Array)
Napi::Value model_wrap::forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m || dispose_pending) return error_throw(env, status::disposed, "the model was disposed");
  if (info.Length() < 5 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsTypedArray())
    return error_throw(env, status::argument_error, "forward(slots, counts, tokens, logitRows, logits)");
  Napi::Array slots = info[0].As<Napi::Array>();
  Napi::Int32Array counts = info[1].As<Napi::Int32Array>(), tokens = info[2].As<Napi::Int32Array>(),
                   rows = info[3].As<Napi::Int32Array>();
  Napi::Float32Array logits = info[4].As<Napi::Float32Array>();
  if (counts.ElementLength() != slots.Length())
    return error_throw(env, status::argument_error, "one count per slot is required");
  if (logits.ElementLength() < rows.ElementLength() * size_t(m->cfg.vocab))
    return error_throw(env, status::argument_error, "logits buffer too small");
  auto* w = new forward_worker(env, this);
  auto fail = [&](Napi::Value thrown) {  // before Queue(): the worker never runs
    w->guard.release();
    delete w;
    return thrown;
  };
  int offset = 0;
  for (uint32_t i = 0; i < slots.Length(); i++) {
    Napi::Value v = slots.Get(i);
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(slot_wrap::ctor.Value()))
      return fail(error_throw(env, status::argument_error, "forward: slots[" + std::to_string(i) + "] is not a KV slot"));
    slot_wrap* sw = slot_wrap::Unwrap(v.As<Napi::Object>());
    if (!sw->usable(env) || sw->owner != this || !sw->idle(env)) {
      if (sw->s && sw->owner != this) return fail(error_throw(env, status::argument_error, "forward: a slot of another model"));
      return fail(env.Undefined());
    }
    w->guard.hold(sw);
    w->seqs.push_back({sw->s, offset, counts[i]});
    offset += counts[i];
  }
  if (size_t(offset) != tokens.ElementLength()) return fail(error_throw(env, status::argument_error, "counts must sum to the number of tokens"));
  w->guard.keep(tokens); w->guard.keep(rows); w->guard.keep(logits);
  w->b.tokens = tokens.Data();
  w->b.n_tokens = offset;
  w->b.seqs = w->seqs.data();
  w->b.n_seqs = int(w->seqs.size());
  w->b.logit_rows = rows.Data();
  w->b.n_logits = int(rows.ElementLength());
  w->b.logits = logits.Data();
  return w->promise_queue();
}

// createSlot(capacity, dtype code): Slot
Napi::Value model_wrap::slot_create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m || dispose_pending) return error_throw(env, status::disposed, "the model was disposed");
  double cap = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  if (!(cap >= 1) || cap > 1e12) return error_throw(env, status::argument_error, "slot capacity must be a positive number of positions");
  state_slot* s = nullptr;
  result r = m->slot_create(size_t(cap), dtype_from_code(info.Length() > 1 ? info[1].ToNumber().Uint32Value() : 1), &s);
  if (!r) return error_throw(env, r.code, r.message);
  return slot_wrap::create(this, s);
}

Napi::Value model_wrap::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m) return error_throw(env, status::disposed, "the model was disposed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernels", m->kern->name);
  o.Set("threads", m->threads());
  o.Set("int8", m->int8());
  o.Set("bf16Activations", m->bf16_activations());
  o.Set("bf16Dot", m->bf16_activations() && m->kern->matmul_bf16 != nullptr);  // vdpbf16ps, not rounded f32
  o.Set("packedWeights", m->packed_weights());
  o.Set("quantPanels", m->quant_panels());  // block-quant prefill through quant_matmul_panel
  o.Set("weightPages", m->weight_pages());  // where the matmul weights are read: 2m-file, 2m-copy, 4k-file
  o.Set("maxTokens", m->max_tokens());
  o.Set("forwardCalls", double(m->forward_calls));
  o.Set("tokensProcessed", double(m->tokens_processed));
  o.Set("forwardAllocations", double(g_forward_allocations.load()));
  return o;
}

// expertStats() → {nExpert, layers: Int32Array (MoE layer indices), counts, stepCounts, stepBytes:
// Float64Array [layers.length][nExpert]}; null for a model without experts.
Napi::Value model_wrap::expert_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!m) return error_throw(env, status::disposed, "the model was disposed");
  const int E = m->cfg.n_expert, NL = m->cfg.n_layer;
  if (E <= 0) return env.Null();
  const size_t LE = size_t(NL) * size_t(E);
  std::vector<uint64_t> total(LE), step(LE), bytes(LE);
  m->read_expert_stats(total.data(), step.data(), bytes.data());
  int n_moe = 0;
  for (int l = 0; l < NL; l++) n_moe += m->cfg.moe(l) ? 1 : 0;
  Napi::Int32Array layers = Napi::Int32Array::New(env, size_t(n_moe));
  Napi::Float64Array c = Napi::Float64Array::New(env, size_t(n_moe) * E), sc = Napi::Float64Array::New(env, size_t(n_moe) * E),
                     sb = Napi::Float64Array::New(env, size_t(n_moe) * E);
  for (int l = 0, i = 0; l < NL; l++) {
    if (!m->cfg.moe(l)) continue;
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

Napi::Value model_wrap::expert_stats_reset(const Napi::CallbackInfo& info) {
  if (!m) return error_throw(info.Env(), status::disposed, "the model was disposed");
  m->reset_expert_stats();
  return info.Env().Undefined();
}

Napi::Value model_wrap::dispose(const Napi::CallbackInfo& info) {
  if (busy > 0) dispose_pending = true;
  else destroy();
  return info.Env().Undefined();
}

}  // namespace resident
