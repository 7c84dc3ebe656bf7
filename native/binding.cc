#include "binding.h"

#include <cstring>
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

// ---------------------------------------------------------------- TensorHandle

static Napi::FunctionReference* g_ctor = nullptr;

Napi::Function TensorHandle::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "TensorHandle",
                                 {
                                     InstanceMethod("dispose", &TensorHandle::Dispose),
                                     InstanceMethod("read", &TensorHandle::Read),
                                     InstanceMethod("write", &TensorHandle::Write),
                                     InstanceAccessor("shape", &TensorHandle::GetShape, nullptr),
                                     InstanceAccessor("dtype", &TensorHandle::GetDtype, nullptr),
                                     InstanceAccessor("device", &TensorHandle::GetDevice, nullptr),
                                     InstanceAccessor("disposed", &TensorHandle::GetDisposed, nullptr),
                                     InstanceAccessor("nbytes", &TensorHandle::GetNbytes, nullptr),
                                 });
  g_ctor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

Napi::Object TensorHandle::Wrap(Napi::Env env, Tensor t) {
  Napi::Object o = g_ctor->New({});
  Unwrap(o)->tensor_ = std::move(t);
  return o;
}

bool TensorHandle::Is(const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(g_ctor->Value());
}

Tensor& TensorHandle::tensor(const char* op, const char* name) {
  if (disposed()) fail(std::string(op) + ": " + name + " was used after dispose()");
  return tensor_;
}

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  tensor_.storage.reset();
  return info.Env().Undefined();
}

Napi::Value TensorHandle::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), tensor_.shape.size());
  for (size_t i = 0; i < tensor_.shape.size(); i++) a.Set(i, Napi::Number::New(info.Env(), (double)tensor_.shape[i]));
  return a;
}
Napi::Value TensorHandle::GetDtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(tensor_.dtype));
}
Napi::Value TensorHandle::GetDevice(const Napi::CallbackInfo& info) {
  if (disposed()) return Napi::String::New(info.Env(), "disposed");
  std::string d = device_name(tensor_.device());
  if (tensor_.device() == Device::CUDA) d += ":" + std::to_string(tensor_.storage->device_index);
  return Napi::String::New(info.Env(), d);
}
Napi::Value TensorHandle::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed()); }
Napi::Value TensorHandle::GetNbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)tensor_.nbytes());
}

// Copies between the tensor and a JS typed array of exactly the same byte length.
static void* typed_data(const Napi::Value& v, size_t* len, const char* op) {
  if (!v.IsTypedArray()) fail(std::string(op) + ": expected a TypedArray");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  Napi::ArrayBuffer buf = ta.ArrayBuffer();
  *len = ta.ByteLength();
  return static_cast<char*>(buf.Data()) + ta.ByteOffset();
}

Napi::Value TensorHandle::Read(const Napi::CallbackInfo& info) {
  try {
    Tensor& t = tensor("read", "tensor");
    size_t len;
    void* dst = typed_data(info[0], &len, "read");
    if (len != t.nbytes())
      fail("read: typed array has " + std::to_string(len) + " bytes but " + t.desc() + " has " + std::to_string(t.nbytes()));
    if (t.device() == Device::CPU) std::memcpy(dst, t.raw(), len);
    else cuda_copy_d2h(dst, t.raw(), len, t.storage->device_index);
    return info.Env().Undefined();
  } catch (const Error& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Value TensorHandle::Write(const Napi::CallbackInfo& info) {
  try {
    Tensor& t = tensor("write", "tensor");
    size_t len;
    const void* src = typed_data(info[0], &len, "write");
    if (len != t.nbytes())
      fail("write: typed array has " + std::to_string(len) + " bytes but " + t.desc() + " has " + std::to_string(t.nbytes()));
    if (t.device() == Device::CPU) std::memcpy(t.raw(), src, len);
    else cuda_copy_h2d(t.raw(), src, len, t.storage->device_index);
    return info.Env().Undefined();
  } catch (const Error& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// ---------------------------------------------------------------- Args

const Napi::Value Args::arg(size_t i, const char* name) {
  if (i >= info_.Length())
    fail(std::string(op_) + ": missing argument " + std::to_string(i) + " (" + name + ")");
  return info_[i];
}

Tensor& Args::tensor(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!TensorHandle::Is(v)) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be a tensor");
  return TensorHandle::Unwrap(v.As<Napi::Object>())->tensor(op_, name);
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

std::vector<Tensor*> Args::tensors(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsArray()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<Tensor*> ts(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    std::string elem = std::string(name) + "[" + std::to_string(k) + "]";
    if (!TensorHandle::Is(e)) fail(std::string(op_) + ": " + elem + " is not a tensor");
    ts[k] = &TensorHandle::Unwrap(e.As<Napi::Object>())->tensor(op_, elem.c_str());
  }
  return ts;
}

std::vector<double> Args::nums(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsArray()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<double> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!e.IsNumber()) fail(std::string(op_) + ": " + name + "[" + std::to_string(k) + "] must be a number");
    out[k] = e.As<Napi::Number>().DoubleValue();
  }
  return out;
}

std::vector<int64_t> Args::shape(size_t i, const char* name) {
  Napi::Value v = arg(i, name);
  if (!v.IsArray()) fail(std::string(op_) + ": argument " + std::to_string(i) + " (" + name + ") must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> s(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!e.IsNumber()) fail(std::string(op_) + ": " + name + "[" + std::to_string(k) + "] must be an integer");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != (double)(int64_t)d) fail(std::string(op_) + ": " + name + "[" + std::to_string(k) + "] must be a non-negative integer, got " + std::to_string(d));
    s[k] = (int64_t)d;
  }
  return s;
}

}  // namespace vj
