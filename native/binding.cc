#include "binding.h"

#include <cmath>
#include <cstring>
#include <deque>
#include <new>
#include <utility>

#include "device.h"

namespace vj {

namespace {
std::vector<std::pair<const char*, BindingFn>>& registry() {
  static std::vector<std::pair<const char*, BindingFn>> r;
  return r;
}
}  // namespace

Registrar::Registrar(const char* name, BindingFn fn) { registry().emplace_back(name, fn); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : registry()) {
    std::string op = name;
    // Every C++ failure becomes a JS Error here: the process never aborts on bad input.
    exports.Set(name, Napi::Function::New(
                          env,
                          [fn, op](const Napi::CallbackInfo& info) -> Napi::Value {
                            try {
                              return fn(info);
                            } catch (const Napi::Error&) {
                              throw;
                            } catch (const std::bad_alloc&) {
                              throw Napi::Error::New(info.Env(), op + ": out of memory");
                            } catch (const std::exception& e) {
                              throw Napi::Error::New(info.Env(), e.what());
                            }
                          },
                          name));
  }
}

// ---------------------------------------------------------------- tensor handles

namespace {

constexpr double kSlots = 16777216.0;  // 2^24 live handles at most; id = generation * 2^24 + slot

struct HandleTable {
  std::deque<Tensor> slots;  // a deque: references stay valid while slots are added
  std::vector<uint32_t> gen;
  std::vector<uint32_t> free_slots;
  Napi::FunctionReference ctor;  // the JS TensorHandle class
  // Handles keep their id under this symbol, which only the addon and the class hold (a string
  // key would also be made anew on every read).
  Napi::Reference<Napi::Symbol> id_key;

  double put(Tensor t) {
    uint32_t i;
    if (!free_slots.empty()) {
      i = free_slots.back();
      free_slots.pop_back();
      slots[i] = std::move(t);
    } else {
      if ((double)slots.size() >= kSlots) fail("too many live tensors (16777216): are tensors being disposed?");
      i = (uint32_t)slots.size();
      slots.push_back(std::move(t));
      gen.push_back(1);
    }
    return (double)gen[i] * kSlots + (double)i;
  }
  // The live slot of id, or -1.
  int64_t slot(double id) const {
    if (!(id >= 0 && id < 4503599627370496.0) || id != (double)(uint64_t)id) return -1;  // ids stay below 2^52
    uint64_t u = (uint64_t)id;
    uint64_t i = u % (uint64_t)kSlots, g = u / (uint64_t)kSlots;
    if (i >= slots.size() || gen[i] != g || !slots[i].storage) return -1;
    return (int64_t)i;
  }
  void drop(double id) {
    int64_t i = slot(id);
    if (i < 0) return;  // disposing twice is allowed
    slots[(size_t)i] = Tensor();
    gen[(size_t)i] = gen[(size_t)i] == 0x0fffffffu ? 1 : gen[(size_t)i] + 1;
    free_slots.push_back((uint32_t)i);
  }
};

HandleTable& table(Napi::Env env) { return *env.GetInstanceData<HandleTable>(); }

// The id of a TensorHandle argument, or NaN when v is not one.
double handle_id(HandleTable& t, const Napi::Value& v) {
  if (!v.IsObject()) return NAN;
  Napi::Value id = v.As<Napi::Object>().Get(t.id_key.Value());
  return id.IsNumber() ? id.As<Napi::Number>().DoubleValue() : NAN;
}

Tensor& handle_arg(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() < 1) fail(std::string(op) + ": missing the tensor id");
  HandleTable& t = table(info.Env());
  double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
  int64_t i = t.slot(id);
  if (i < 0) fail(std::string(op) + ": the tensor was used after dispose()");
  return t.slots[(size_t)i];
}

// Copies between the tensor and a JS typed array of exactly the same byte length.
void* typed_data(const Napi::Value& v, size_t* len, const char* op) {
  if (!v.IsTypedArray()) fail(std::string(op) + ": expected a TypedArray");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  Napi::ArrayBuffer buf = ta.ArrayBuffer();
  *len = ta.ByteLength();
  return static_cast<char*>(buf.Data()) + ta.ByteOffset();
}

// The handle class's methods and getters call these with the handle's id. The id that counts is
// the one under the addon's symbol; `id` is there to read (logs, debugging), and changing it
// cannot point a handle at another tensor.
const char* kHandleClass = R"JS(
(function (api, key) {
  class TensorHandle {
    constructor(id) { this.id = id; this[key] = id; }
    get shape() { return api.tensorShape(this[key]); }
    get dtype() { return api.tensorDtype(this[key]); }
    get device() { return api.tensorDevice(this[key]); }
    get disposed() { return !api.tensorLive(this[key]); }
    get nbytes() { return api.tensorNbytes(this[key]); }
    dispose() { api.tensorDispose(this[key]); }
    read(into) { api.tensorRead(this[key], into); }
    write(from) { api.tensorWrite(this[key], from); }
  }
  return TensorHandle;
})
)JS";

}  // namespace

void init_handles(Napi::Env env, Napi::Object exports) {
  auto* t = new HandleTable();
  env.SetInstanceData(t);
  Napi::Function make = env.RunScript(kHandleClass).As<Napi::Function>();
  Napi::Symbol key = Napi::Symbol::New(env, "vjepa.tensor");
  t->id_key = Napi::Persistent(key);
  Napi::Function cls = make.Call({exports, key}).As<Napi::Function>();
  t->ctor = Napi::Persistent(cls);
  exports.Set("TensorHandle", cls);
}

Napi::Value wrap_tensor(Napi::Env env, Tensor t) {
  HandleTable& tb = table(env);
  return tb.ctor.New({Napi::Number::New(env, tb.put(std::move(t)))});
}

Tensor& unwrap_tensor(Napi::Env env, const Napi::Value& v, const char* op, const std::string& name,
                      const std::string& what) {
  HandleTable& t = table(env);
  double id = handle_id(t, v);
  if (id != id) fail(std::string(op) + ": " + what + " must be a tensor");
  int64_t i = t.slot(id);
  if (i < 0) fail(std::string(op) + ": " + name + " was used after dispose()");
  return t.slots[(size_t)i];
}

VJ_BINDING(tensorDispose) {
  if (info.Length() > 0 && info[0].IsNumber()) table(info.Env()).drop(info[0].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

VJ_BINDING(tensorLive) {
  double id = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
  return Napi::Boolean::New(info.Env(), table(info.Env()).slot(id) >= 0);
}

VJ_BINDING(tensorShape) {
  Tensor& t = handle_arg(info, "shape");
  Napi::Array a = Napi::Array::New(info.Env(), t.shape.size());
  for (size_t i = 0; i < t.shape.size(); i++) a.Set(i, Napi::Number::New(info.Env(), (double)t.shape[i]));
  return a;
}

VJ_BINDING(tensorDtype) { return Napi::String::New(info.Env(), dtype_name(handle_arg(info, "dtype").dtype)); }

VJ_BINDING(tensorDevice) {
  HandleTable& tb = table(info.Env());
  int64_t i = tb.slot(info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN);
  if (i < 0) return Napi::String::New(info.Env(), "disposed");
  const Tensor& t = tb.slots[(size_t)i];
  std::string d = device_name(t.device());
  if (t.device() == Device::CUDA) d += ":" + std::to_string(t.storage->device_index);
  return Napi::String::New(info.Env(), d);
}

VJ_BINDING(tensorNbytes) { return Napi::Number::New(info.Env(), (double)handle_arg(info, "nbytes").nbytes()); }

VJ_BINDING(tensorRead) {
  Tensor& t = handle_arg(info, "read");
  size_t len;
  void* dst = typed_data(info[1], &len, "read");
  if (len != t.nbytes())
    fail("read: typed array has " + std::to_string(len) + " bytes but " + t.desc() + " has " + std::to_string(t.nbytes()));
  if (t.device() == Device::CPU) std::memcpy(dst, t.raw(), len);
  else cuda_copy_d2h(dst, t.raw(), len, t.storage->device_index);
  return info.Env().Undefined();
}

VJ_BINDING(tensorWrite) {
  Tensor& t = handle_arg(info, "write");
  size_t len;
  const void* src = typed_data(info[1], &len, "write");
  if (len != t.nbytes())
    fail("write: typed array has " + std::to_string(len) + " bytes but " + t.desc() + " has " + std::to_string(t.nbytes()));
  if (t.device() == Device::CPU) std::memcpy(t.raw(), src, len);
  else cuda_copy_h2d(t.raw(), src, len, t.storage->device_index);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- Args

const Napi::Value Args::arg(size_t i, const char* name) {
  if (i >= info_.Length())
    fail(std::string(op_) + ": missing argument " + std::to_string(i) + " (" + name + ")");
  return info_[i];
}

Tensor& Args::tensor(size_t i, const char* name) {
  return unwrap_tensor(info_.Env(), arg(i, name), op_, name, "argument " + std::to_string(i) + " (" + name + ")");
}

Tensor* Args::opt_tensor(size_t i, const char* name) {
  if (i >= info_.Length() || info_[i].IsNull() || info_[i].IsUndefined()) return nullptr;
  return &tensor(i, name);
}

double Args::num(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsNumber()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

float Args::f32(size_t i, const char* name) {
  double d = num(i, name);
  // A NaN or infinite scale, eps or rate never means anything here: it would only poison every output.
  if (!std::isfinite(d) || std::fabs(d) > 3.4028234663852886e38)
    fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be a finite float32, got " +
         std::to_string(d));
  return (float)d;
}

int64_t Args::i64(size_t i, const char* name) {
  double d = num(i, name);
  if (d != (double)(int64_t)d) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be an integer");
  return (int64_t)d;
}

bool Args::boolean(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsBoolean()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string Args::str(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsString()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// The elements of an array argument, each read by read(value, "name[k]"), which throws for a bad one.
template <class T, class Read>
std::vector<T> Args::elements(size_t i, const char* name, const char* of_what, Read read) {
  Napi::Value v = arg(i, name);
  if (!v.IsArray())
    fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be an array of " + of_what);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<T> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) out[k] = read(a.Get(k), std::string(name) + "[" + std::to_string(k) + "]");
  return out;
}

std::vector<Tensor*> Args::tensors(size_t i, const char* name) {
  return elements<Tensor*>(i, name, "tensors", [&](const Napi::Value& e, const std::string& elem) {
    return &unwrap_tensor(info_.Env(), e, op_, elem, elem);
  });
}

std::vector<double> Args::nums(size_t i, const char* name) {
  return elements<double>(i, name, "numbers", [&](const Napi::Value& e, const std::string& elem) {
    if (!e.IsNumber()) fail(std::string(op_) + ": " + elem + " must be a number");
    return e.As<Napi::Number>().DoubleValue();
  });
}

std::vector<int64_t> Args::shape(size_t i, const char* name) {
  return elements<int64_t>(i, name, "integers", [&](const Napi::Value& e, const std::string& elem) {
    if (!e.IsNumber()) fail(std::string(op_) + ": " + elem + " must be an integer");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != (double)(int64_t)d)
      fail(std::string(op_) + ": " + elem + " must be a non-negative integer, got " + std::to_string(d));
    return (int64_t)d;
  });
}

}  // namespace vj
