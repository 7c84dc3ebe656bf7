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

// Stores v into an fp32 output, or rounds it into a bf16 one: kernels templated on the output type.
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(uint16_t* p, float v) { *p = to_bf16(v); }
// ... and the widening reads: an operand that may come in either precision.
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const uint16_t* p) { return from_bf16(*p); }

}  // namespace vj::cuda
