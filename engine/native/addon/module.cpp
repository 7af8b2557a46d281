// The addon's module: what `require('resident_engine.node')` returns (engine/native.ts's NativeBinding).
#include <napi.h>

#include "exports.h"
#include "model-wrap.h"
#include "slot-wrap.h"

namespace {

Napi::Object module_init(Napi::Env env, Napi::Object exports) {
  resident::model_wrap::init(env, exports);  // Model, loadModel
  resident::slot_wrap::init(env, exports);   // Slot
  resident::test_hooks_init(env, exports);
  resident::memory_probe_init(env, exports);
  resident::sample_export_init(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(resident_engine, module_init)
