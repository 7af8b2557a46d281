// JS class Slot: one sequence's state slot of a model (slot-wrap.cpp). Accessors length, capacity, bytesPerToken,
// tokensForwarded, stateBytes, statePosition; methods residentBytes, truncate, recycle, copyFrom, readKv, writeKv,
// readState, writeState, dispose. Copies and raw reads/writes run in promise workers.
#pragma once
#include <napi.h>

#include "../state-slot.h"

namespace resident {

class model_wrap;

class slot_wrap : public Napi::ObjectWrap<slot_wrap> {
 public:
  static Napi::FunctionReference ctor;
  static void init(Napi::Env env, Napi::Object exports);
  static Napi::Object create(model_wrap* owner, state_slot* s);  // a JS Slot owning s
  explicit slot_wrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<slot_wrap>(info) {}
  ~slot_wrap() override;

  state_slot* s = nullptr;
  model_wrap* owner = nullptr;
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
  bool usable(Napi::Env env);  // else throws: disposed (the slot or its model)
  bool idle(Napi::Env env);    // else throws: an operation on this slot is running (on different slots they may overlap)

 private:
  Napi::Value length(const Napi::CallbackInfo& info);
  Napi::Value capacity(const Napi::CallbackInfo& info);
  Napi::Value bytes_per_token(const Napi::CallbackInfo& info);
  Napi::Value tokens_forwarded(const Napi::CallbackInfo& info);
  Napi::Value state_bytes(const Napi::CallbackInfo& info);
  Napi::Value state_position(const Napi::CallbackInfo& info);
  Napi::Value resident_bytes(const Napi::CallbackInfo& info);
  Napi::Value truncate(const Napi::CallbackInfo& info);
  Napi::Value recycle(const Napi::CallbackInfo& info);
  Napi::Value copy_from(const Napi::CallbackInfo& info);
  Napi::Value kv_read(const Napi::CallbackInfo& info);
  Napi::Value kv_write(const Napi::CallbackInfo& info);
  Napi::Value state_read(const Napi::CallbackInfo& info);
  Napi::Value state_write(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
};

}  // namespace resident
