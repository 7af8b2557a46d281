// The addon's shared plumbing: native status codes to JS errors (an Error whose `code` names the status;
// engine/native.ts maps it to a named error class) and the AsyncWorker base that runs work off the JS thread
// and settles a Promise.
#pragma once
#include <napi.h>

#include <string>

#include "../common.h"

namespace resident {

const char* status_name(status s);
Napi::Error error_from(Napi::Env env, const result& r);
// Throws a JS error for (s, msg) and returns undefined, for `return error_throw(...)` from a JS method.
Napi::Value error_throw(Napi::Env env, status s, const std::string& msg);

// Runs work() off the JS thread, then on it: release(), and resolves with done() or rejects with the failure.
class promise_worker : public Napi::AsyncWorker {
 public:
  explicit promise_worker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  // Queues the worker and returns its promise (the worker deletes itself when settled).
  Napi::Value promise_queue() {
    Napi::Promise p = promise();
    Queue();
    return p;
  }

 protected:
  virtual result work() = 0;
  virtual Napi::Value done(Napi::Env env) { return env.Undefined(); }
  virtual void release() {}  // on the JS thread, before settling: let go of what work() held
  void Execute() override { result_ = work(); }
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  result result_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace resident
