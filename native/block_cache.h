// Free blocks kept for reuse by the two caching allocators (host buffers in tensor.cc, device
// memory in cuda/memory.cu), keyed by size class. A request takes the smallest cached block
// whose class is at least its own and at most kMaxFit times it (best fit), not only a block of
// its exact class: a training step's activation sizes follow the mask sizes, which change every
// iteration, and with exact matching every size a step ever asked for stays cached: after 40
// default-config steps the host allocator held 760 MiB for a peak of 279 MiB live, against 376
// MiB now (npm run bench -- --only step-memory). The bound keeps a small request from holding a
// much larger block. Not thread-safe: the owner holds its lock.
#pragma once
#include <cstddef>
#include <map>
#include <vector>

namespace vj {

class BlockCache {
 public:
  static constexpr size_t kMaxFit = 2;

  struct Block {
    void* p = nullptr;
    size_t bytes = 0;  // the block's class, which the caller must give back to put()
  };

  // The best-fitting cached block for a request of class `bytes`, or {nullptr, 0}.
  Block take(size_t bytes) {
    // Emptied lists stay in the map (with their capacity), so the steady state allocates nothing.
    for (auto it = lists_.lower_bound(bytes); it != lists_.end() && it->first / kMaxFit <= bytes; ++it) {
      if (it->second.empty()) continue;
      Block b{it->second.back(), it->first};
      it->second.pop_back();
      bytes_ -= b.bytes;
      return b;
    }
    return {};
  }

  void put(void* p, size_t bytes) {
    lists_[bytes].push_back(p);
    bytes_ += bytes;
  }

  // Hands every cached block to release(p, bytes) and forgets it.
  template <class F>
  void drain(F release) {
    for (auto& [bytes, list] : lists_)
      for (void* p : list) release(p, bytes);
    lists_.clear();
    bytes_ = 0;
  }

  size_t bytes() const { return bytes_; }

 private:
  std::map<size_t, std::vector<void*>> lists_;
  size_t bytes_ = 0;
};

}  // namespace vj
