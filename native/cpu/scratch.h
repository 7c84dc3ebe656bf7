// A reusable float buffer that grows on demand (64-byte aligned) and is freed with its owner:
// the thread-local scratch of the GEMM paths (packing in gemm.cc, widened bf16 operands in
// gemm_bf16.cc).
#pragma once
#include <cstdlib>
#include <string>

#include "tensor.h"

namespace vj::cpu {

struct ScratchFloats {
  float* p = nullptr;
  size_t n = 0;
  ScratchFloats() = default;
  ScratchFloats(const ScratchFloats&) = delete;
  ScratchFloats& operator=(const ScratchFloats&) = delete;
  ~ScratchFloats() { std::free(p); }

  // At least `floats` floats; fails "<op>: out of memory for N bytes of <purpose>".
  float* reserve(size_t floats, const char* op, const char* purpose) {
    if (floats > n || !p) {
      std::free(p);
      size_t bytes = ((floats ? floats : 1) * sizeof(float) + 63) / 64 * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) {
        n = 0;
        fail(std::string(op) + ": out of memory for " + std::to_string(bytes) + " bytes of " + purpose);
      }
      n = floats;
    }
    return p;
  }
};

}  // namespace vj::cpu
