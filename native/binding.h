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

// Tensors handed to JS live in a table of this addon instance; JS holds TensorHandle objects
// (a plain JS class, made in init_handles) that carry the slot's id. A handle costs one table
// slot and one small JS object: no C++ object wrapped per tensor and no GC finaliser, whose
// weak references made every op's outputs and views slow to create and to collect. Lifetime
// is explicit (dispose()); lib/tensor.ts gives tensors that outlive every scope a
// FinalizationRegistry backstop. An id carries its slot's generation, so a handle used after
// dispose() is an error, never the slot's next tensor.
void init_handles(Napi::Env env, Napi::Object exports);
Napi::Value wrap_tensor(Napi::Env env, Tensor t);
// The tensor of a TensorHandle argument. Errors name it: "<op>: <what> must be a tensor",
// "<op>: <name> was used after dispose()".
Tensor& unwrap_tensor(Napi::Env env, const Napi::Value& v, const char* op, const std::string& name,
                      const std::string& what);

// Positional argument reader that names the op and the argument in every error.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  Tensor& tensor(size_t i, const char* name);
  Tensor* opt_tensor(size_t i, const char* name);  // null/undefined -> nullptr
  double num(size_t i, const char* name);
  float f32(size_t i, const char* name);  // a number that is finite as a float32
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
  template <class T, class Read>
  std::vector<T> elements(size_t i, const char* name, const char* of_what, Read read);
  const Napi::CallbackInfo& info_;
  const char* op_;
};

}  // namespace vj

#define VJ_BINDING(name)                                                   \
  static Napi::Value vj_binding_##name(const Napi::CallbackInfo& info);    \
  static ::vj::Registrar vj_registrar_##name(#name, &vj_binding_##name);   \
  static Napi::Value vj_binding_##name(const Napi::CallbackInfo& info)
