#include <cstring>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

// Round to nearest even, NaN kept quiet: the same rounding as torch's .to(bfloat16).
static inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) y[i] = to_bf16(x[i]);
  });
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      uint32_t u = (uint32_t)x[i] << 16;
      std::memcpy(&y[i], &u, 4);
    }
  });
}

}  // namespace vj::cpu
