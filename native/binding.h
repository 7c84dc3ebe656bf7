// The N-API surface: tensor handles, argument readers and self-registering ops.
// Each file in native/api/ defines its ops with VJ_BINDING; addon.cc exports them all.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "tensor.h"

namespace vj {

using BindingFn = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registrar {
  Registrar(const char* name, BindingFn fn);
};
void register_all(Napi::Env env, Napi::Object exports);

// The JS object that owns one tensor view. dispose() drops its reference now;
// the GC finaliser is only the backstop.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, Tensor t);
  static bool Is(const Napi::Value& v);
  TensorHandle(const Napi::CallbackInfo& info);

  Tensor& tensor(const char* op, const char* name);
  bool disposed() const { return !tensor_.storage; }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDtype(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetNbytes(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Tensor tensor_;
};

// Positional argument reader that names the op and the argument in every error.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  Tensor& tensor(size_t i, const char* name);
  Tensor* opt_tensor(size_t i, const char* name);  // null/undefined -> nullptr
  double num(size_t i, const char* name);
  int64_t i64(size_t i, const char* name);
  bool boolean(size_t i, const char* name);
  std::string str(size_t i, const char* name);
  std::vector<int64_t> shape(size_t i, const char* name);
  // An array of tensors (the multi-tensor ops); errors name the element, e.g. "grads[3]".
  std::vector<Tensor*> tensors(size_t i, const char* name);
  std::vector<double> nums(size_t i, const char* name);
  size_t count() const { return info_.Length(); }
  Napi::Env env() const { return info_.Env(); }
  const char* op() const { return op_; }

 private:
  const Napi::Value arg(size_t i, const char* name);
  const Napi::CallbackInfo& info_;
  const char* op_;
};

}  // namespace vj

#define VJ_BINDING(name)                                                   \
  static Napi::Value vj_binding_##name(const Napi::CallbackInfo& info);    \
  static ::vj::Registrar vj_registrar_##name(#name, &vj_binding_##name);   \
  static Napi::Value vj_binding_##name(const Napi::CallbackInfo& info)
