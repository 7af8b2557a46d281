// JS class Model: a loaded model (model-wrap.cpp), and loadModel(config, tensors, options) → Promise<Model>.
// Long work (load, forward) runs in promise workers; while one runs the model and its slots are held busy.
#pragma once
#include <napi.h>

#include <set>
#include <vector>

#include "../model.h"

namespace resident {

class slot_wrap;

class model_wrap : public Napi::ObjectWrap<model_wrap> {
 public:
  static Napi::FunctionReference ctor;
  static void init(Napi::Env env, Napi::Object exports);  // exports Model and loadModel
  explicit model_wrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<model_wrap>(info) {}
  ~model_wrap() override { destroy(); }

  model* m = nullptr;
  int busy = 0;  // async operations in flight (JS thread only)
  bool dispose_pending = false;
  std::set<slot_wrap*> slots;
  void destroy();  // frees the model and every slot's state (their JS objects stay, disposed)
  void release_busy();

 private:
  Napi::Value forward(const Napi::CallbackInfo& info);
  Napi::Value slot_create(const Napi::CallbackInfo& info);
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value expert_stats(const Napi::CallbackInfo& info);
  Napi::Value expert_stats_reset(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
};

// Holds the model and slots busy while a worker runs; releases them on the JS thread when done.
struct busy_guard {
  model_wrap* model = nullptr;
  std::vector<slot_wrap*> slots;
  std::vector<Napi::ObjectReference> refs;  // keep JS objects (slots, buffers) alive
  void hold(model_wrap* m);
  void hold(slot_wrap* s);
  void keep(Napi::Object o) { refs.push_back(Napi::Persistent(o)); }
  void release();
};

}  // namespace resident
