// bf16 <-> fp32 for one value on the device: round to nearest even, NaN kept quiet,
// bit-identical to native/cpu/bf16.h (and torch's .to(bfloat16)).
#pragma once
#include <cstdint>

namespace vj::cuda {

__device__ __forceinline__ uint16_t to_bf16(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
__device__ __forceinline__ float from_bf16(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

}  // namespace vj::cuda
