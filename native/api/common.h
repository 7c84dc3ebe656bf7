// Helpers shared by the bindings: device agreement and f32 checks.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "backend.h"
#include "binding.h"

namespace vj {

// All tensors of one op must live on one device; returns that device's backend (the CPU's when
// there are none). Null entries (absent optional tensors) are skipped.
template <class Range>
inline const Backend& same_device_in(const char* op, const Range& ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t) continue;
    if (!first) first = t;
    else if (t->device() != first->device() || t->storage->device_index != first->storage->device_index)
      fail(std::string(op) + ": tensors on different devices (" + first->desc() + " and " + t->desc() + ")");
  }
  return backend_for(first ? first->device() : Device::CPU);
}

inline const Backend& same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  return same_device_in(op, ts);
}

inline void need_f32(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  for (auto& [name, t] : ts)
    if (t) check_dtype(op, name, *t, DType::F32);
}

inline int64_t last_dim(const Tensor& t) { return t.shape.empty() ? 1 : t.shape.back(); }

template <class F>
inline F need(F f, const Backend& b, const char* op) {
  if (!f) fail(std::string(op) + ": not implemented on the " + b.name + " backend");
  return f;
}

}  // namespace vj
