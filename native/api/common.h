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

// Multi-tensor ops: the element counts of the lists' tensors, after checking that every entry is
// float32 and that the k-th entries of the later lists have the first list's k-th shape. Errors
// name the list and the entry ("ms[3]").
inline std::vector<int64_t> list_sizes(const char* op,
                                       std::initializer_list<std::pair<const char*, const std::vector<Tensor*>*>> lists) {
  auto [name0, first] = *lists.begin();
  for (auto& [name, list] : lists) {
    if (list->size() != first->size())
      fail(std::string(op) + ": " + name + " has " + std::to_string(list->size()) + " tensors, " + name0 + " has " +
           std::to_string(first->size()));
    for (size_t k = 0; k < list->size(); k++) {
      std::string elem = std::string(name) + "[" + std::to_string(k) + "]";
      check_dtype(op, elem.c_str(), *(*list)[k], DType::F32);
      if (list != first)
        check_same_shape(op, (std::string(name0) + "[" + std::to_string(k) + "]").c_str(), *(*first)[k], elem.c_str(),
                         *(*list)[k]);
    }
  }
  std::vector<int64_t> ns(first->size());
  for (size_t k = 0; k < ns.size(); k++) ns[k] = (*first)[k]->numel();
  return ns;
}

// The one device of all the lists' tensors (the CPU's backend when they are empty).
inline const Backend& lists_device(const char* op, std::initializer_list<const std::vector<Tensor*>*> lists) {
  std::vector<const Tensor*> all;
  for (auto* l : lists) all.insert(all.end(), l->begin(), l->end());
  return same_device_in(op, all);
}

// The lists' float32 data pointers, as the backends take them.
template <class T>
inline std::vector<T*> f32_ptrs(const std::vector<Tensor*>& ts) {
  std::vector<T*> out;
  for (Tensor* t : ts) out.push_back(t->f32());
  return out;
}

inline int64_t last_dim(const Tensor& t) { return t.shape.empty() ? 1 : t.shape.back(); }

template <class F>
inline F need(F f, const Backend& b, const char* op) {
  if (!f) fail(std::string(op) + ": not implemented on the " + b.name + " backend");
  return f;
}

}  // namespace vj
