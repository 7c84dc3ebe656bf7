// bf16 <-> fp32 for one value: round to nearest even, NaN kept quiet (torch's .to(bfloat16)).
// native/cuda/common.cuh has the device twin; the two are bit-identical.
#pragma once
#include <cstdint>
#include <cstring>

namespace vj::cpu {

inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

inline float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// n values widened into dst, serially: for a kernel staging bf16 operands into fp32 scratch inside
// its own parallel region.
inline void from_bf16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = from_bf16(src[i]);
}

}  // namespace vj::cpu
