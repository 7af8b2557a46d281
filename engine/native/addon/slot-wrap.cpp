#include "slot-wrap.h"

#include <algorithm>

#include "model-wrap.h"
#include "promise-worker.h"

namespace resident {

Napi::FunctionReference slot_wrap::ctor;

namespace {

// Copy between slots, raw KV range reads / writes, recurrent state reads / writes, off the JS thread.
class slot_worker : public promise_worker {
 public:
  enum kind { copy, kv_read, kv_write, state_read, state_write };
  // An operation on sw's slot (dst), holding sw and its model busy until it settles.
  slot_worker(Napi::Env env, slot_wrap* sw, kind k) : promise_worker(env), dst(sw->s), k_(k) {
    guard.hold(sw->owner);
    guard.hold(sw);
  }
  // Reads fill `out` (the caller's array or a new Buffer) and resolve with it.
  slot_worker* read_into(Napi::Object out, char* bytes) {
    buffer = Napi::Persistent(out);
    data = bytes;
    return this;
  }
  // Writes take `in`'s bytes, keeping it alive until they settle.
  slot_worker* write_from(Napi::TypedArray in) {
    guard.keep(in);
    data = static_cast<char*>(in.ArrayBuffer().Data()) + in.ByteOffset();
    return this;
  }
  busy_guard guard;
  state_slot *dst, *src = nullptr;
  size_t start = 0, end = 0;  // positions (copy: end = n; state_write: end = the state's position)

 protected:
  result work() override {
    switch (k_) {
      case copy: return dst->copy_from(*src, end);
      case kv_read: return dst->read_range(start, end, data);
      case kv_write: return dst->write_range(start, end - start, data);
      case state_read: return dst->read_state(data);
      default: return dst->write_state(end, data);
    }
  }
  Napi::Value done(Napi::Env env) override { return k_ == kv_read || k_ == state_read ? buffer.Value() : env.Undefined(); }
  void release() override { guard.release(); }

 private:
  char* data = nullptr;
  Napi::ObjectReference buffer;  // the reads' result
  kind k_;
};

// The caller's typed array of exactly `bytes` (reused across reads: no fresh pages per chunk), or a new Buffer.
// Returns false (a JS error thrown) when the caller's array has another size.
bool read_target(const Napi::CallbackInfo& info, size_t arg, size_t bytes, const char* what, Napi::Object* out, char** data) {
  if (info.Length() > arg && info[arg].IsTypedArray()) {
    Napi::TypedArray into = info[arg].As<Napi::TypedArray>();
    if (into.ByteLength() != bytes) {
      error_throw(info.Env(), status::argument_error, std::string(what) + ": destination holds " + std::to_string(into.ByteLength()) +
                                                          " bytes, the range " + std::to_string(bytes));
      return false;
    }
    *data = static_cast<char*>(into.ArrayBuffer().Data()) + into.ByteOffset();
    *out = into;
    return true;
  }
  Napi::Buffer<char> buf = Napi::Buffer<char>::New(info.Env(), bytes);
  *data = buf.Data();
  *out = buf;
  return true;
}

}  // namespace

void slot_wrap::init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Slot", {
      InstanceAccessor("length", &slot_wrap::length, nullptr),
      InstanceAccessor("capacity", &slot_wrap::capacity, nullptr),
      InstanceAccessor("bytesPerToken", &slot_wrap::bytes_per_token, nullptr),
      InstanceAccessor("tokensForwarded", &slot_wrap::tokens_forwarded, nullptr),
      InstanceAccessor("stateBytes", &slot_wrap::state_bytes, nullptr),
      InstanceAccessor("statePosition", &slot_wrap::state_position, nullptr),
      InstanceMethod("residentBytes", &slot_wrap::resident_bytes),
      InstanceMethod("truncate", &slot_wrap::truncate),
      InstanceMethod("recycle", &slot_wrap::recycle),
      InstanceMethod("copyFrom", &slot_wrap::copy_from),
      InstanceMethod("readKv", &slot_wrap::kv_read),
      InstanceMethod("writeKv", &slot_wrap::kv_write),
      InstanceMethod("readState", &slot_wrap::state_read),
      InstanceMethod("writeState", &slot_wrap::state_write),
      InstanceMethod("dispose", &slot_wrap::dispose),
  });
  ctor = Napi::Persistent(f);
  exports.Set("Slot", f);
}

Napi::Object slot_wrap::create(model_wrap* owner, state_slot* s) {
  Napi::Object obj = ctor.New({});
  slot_wrap* sw = Unwrap(obj);
  sw->s = s;
  sw->owner = owner;
  sw->owner_ref = Napi::Persistent(owner->Value());
  owner->slots.insert(sw);
  return obj;
}

slot_wrap::~slot_wrap() {
  if (owner) owner->slots.erase(this);
  destroy();
}

bool slot_wrap::usable(Napi::Env env) {
  if (s && !dispose_pending && owner && owner->m && !owner->dispose_pending) return true;
  error_throw(env, status::disposed, "the KV slot (or its model) was disposed");
  return false;
}

bool slot_wrap::idle(Napi::Env env) {
  if (busy == 0) return true;
  error_throw(env, status::argument_error, "the KV slot is busy: an earlier forward or KV operation on it has not finished");
  return false;
}

Napi::Value slot_wrap::length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s ? double(s->length) : 0); }
Napi::Value slot_wrap::capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s ? double(s->capacity) : 0); }
Napi::Value slot_wrap::bytes_per_token(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), s ? double(s->bytes_per_token()) : 0);
}
Napi::Value slot_wrap::tokens_forwarded(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), s ? double(s->tokens_forwarded) : 0);
}
Napi::Value slot_wrap::state_bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), s ? double(s->state_bytes()) : 0); }
// The position the recurrent state belongs to (== length when usable); -1 for none (stale after a copy).
Napi::Value slot_wrap::state_position(const Napi::CallbackInfo& info) {
  if (!s || s->state_position() == state_slot::no_position) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), double(s->has_recurrent() ? s->state_position() : s->length));
}
Napi::Value slot_wrap::resident_bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), s ? double(s->committed_bytes()) : 0);
}

Napi::Value slot_wrap::truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (busy > 0) return error_throw(env, status::argument_error, "cannot truncate a KV slot while an operation on it runs");
  double n = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : -1;
  if (!(n >= 0)) return error_throw(env, status::argument_error, "truncate(n): n must be >= 0");
  result r = s->truncate(size_t(n));
  if (!r) return error_throw(env, r.code, r.message);
  return env.Undefined();
}

Napi::Value slot_wrap::recycle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (busy > 0) return error_throw(env, status::argument_error, "cannot recycle a KV slot while an operation on it runs");
  s->recycle();
  return env.Undefined();
}

// copyFrom(src: Slot, n): Promise<void>
Napi::Value slot_wrap::copy_from(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env)) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(ctor.Value()))
    return error_throw(env, status::argument_error, "copyFrom(srcSlot, n)");
  slot_wrap* from = Unwrap(info[0].As<Napi::Object>());
  if (!from->usable(env) || !idle(env) || !from->idle(env)) return env.Undefined();
  if (from == this) return error_throw(env, status::argument_error, "copyFrom: a slot cannot copy from itself");
  auto* w = new slot_worker(env, this, slot_worker::copy);
  w->guard.hold(from);
  w->src = from->s;
  w->end = size_t(std::max(0.0, info[1].ToNumber().DoubleValue()));
  return w->promise_queue();
}

// readKv(start, end, into?: Uint8Array): Promise<Buffer | into>, the KV of positions [start, end)
Napi::Value slot_wrap::kv_read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  double a = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : -1, b = info.Length() > 1 ? info[1].ToNumber().DoubleValue() : -1;
  if (!(a >= 0) || !(b >= a) || b > double(s->length))
    return error_throw(env, status::capacity_error, "readKv(start, end): range outside the slot's " + std::to_string(s->length) + " positions");
  Napi::Object out;
  char* data = nullptr;
  if (!read_target(info, 2, s->range_bytes(size_t(b - a)), "readKv", &out, &data)) return env.Undefined();
  auto* w = new slot_worker(env, this, slot_worker::kv_read);
  w->start = size_t(a);
  w->end = size_t(b);
  return w->read_into(out, data)->promise_queue();
}

// writeKv(start, data: Uint8Array): Promise<void>, the KV of positions [start, start + data / bytesPerToken)
Napi::Value slot_wrap::kv_write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray()) return error_throw(env, status::argument_error, "writeKv(start, data: Uint8Array)");
  double a = info[0].ToNumber().DoubleValue();
  Napi::TypedArray data = info[1].As<Napi::TypedArray>();
  const size_t bpt = s->bytes_per_token(), bytes = data.ByteLength();
  if (bytes % bpt != 0) return error_throw(env, status::argument_error, "writeKv: data is not a whole number of positions");
  if (!(a >= 0) || a > double(s->length)) return error_throw(env, status::capacity_error, "writeKv: start must be within [0, length]");
  auto* w = new slot_worker(env, this, slot_worker::kv_write);
  w->start = size_t(a);
  w->end = size_t(a) + bytes / bpt;
  return w->write_from(data)->promise_queue();
}

// readState(into?: Uint8Array): Promise<Buffer | into>, the recurrent state (stateBytes bytes) of statePosition
Napi::Value slot_wrap::state_read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  Napi::Object out;
  char* data = nullptr;
  if (!read_target(info, 0, s->state_bytes(), "readState", &out, &data)) return env.Undefined();
  return (new slot_worker(env, this, slot_worker::state_read))->read_into(out, data)->promise_queue();
}

// writeState(position, data: Uint8Array): Promise<void>, the recurrent state (stateBytes bytes) after `position`
// positions; the slot is usable again when position == length.
Napi::Value slot_wrap::state_write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!usable(env) || !idle(env)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray()) return error_throw(env, status::argument_error, "writeState(position, data: Uint8Array)");
  const double pos = info[0].ToNumber().DoubleValue();
  Napi::TypedArray data = info[1].As<Napi::TypedArray>();
  if (!(pos >= 0)) return error_throw(env, status::argument_error, "writeState: position must be >= 0");
  if (data.ByteLength() != s->state_bytes())
    return error_throw(env, status::argument_error, "writeState: data holds " + std::to_string(data.ByteLength()) + " bytes, the state " +
                                                        std::to_string(s->state_bytes()));
  auto* w = new slot_worker(env, this, slot_worker::state_write);
  w->end = size_t(pos);
  return w->write_from(data)->promise_queue();
}

Napi::Value slot_wrap::dispose(const Napi::CallbackInfo& info) {
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

}  // namespace resident
