#include "promise-worker.h"

namespace resident {

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

Napi::Error error_from(Napi::Env env, const result& r) {
  Napi::Error e = Napi::Error::New(env, r.message);
  e.Set("code", Napi::String::New(env, status_name(r.code)));
  return e;
}

Napi::Value error_throw(Napi::Env env, status s, const std::string& msg) {
  error_from(env, result::fail(s, msg)).ThrowAsJavaScriptException();
  return env.Undefined();
}

void promise_worker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  release();
  if (result_) deferred_.Resolve(done(env));
  else deferred_.Reject(error_from(env, result_).Value());
}

void promise_worker::OnError(const Napi::Error& e) {
  release();
  deferred_.Reject(e.Value());
}

}  // namespace resident
