// Multi-tensor ops on the CPU: the tensors of a list are split across the pool as if they were
// one array, so a list of many small tensors (biases, norms) costs one parallel dispatch, not one
// each, and every thread gets an equal share of the elements.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/threadpool.h"

namespace vj::cpu {

// fn(k, j0, j1) on elements [j0, j1) of tensor k, for every element of every tensor once.
template <class F>
void parallel_for_tensors(const int64_t* ns, int64_t count, int64_t grain, F fn) {
  std::vector<int64_t> start((size_t)count + 1, 0);
  for (int64_t k = 0; k < count; k++) start[(size_t)k + 1] = start[(size_t)k] + std::max<int64_t>(ns[k], 0);
  parallel_for(start.back(), grain, [&](int64_t i0, int64_t i1) {
    // The last tensor starting at or before i0 (empty tensors are skipped by the loop).
    int64_t k = (int64_t)(std::upper_bound(start.begin(), start.end(), i0) - start.begin()) - 1;
    for (; i0 < i1; k++) {
      const int64_t e = std::min(i1, start[(size_t)k + 1]);
      if (e > i0) fn(k, i0 - start[(size_t)k], e - start[(size_t)k]);
      i0 = std::max(i0, e);
    }
  });
}

}  // namespace vj::cpu
