// f32 <-> bf16 (stored as uint16): round to nearest even, NaN kept quiet, bit-identical to
// native/cpu/cast.cc (common.cuh's to_bf16 / from_bf16).
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {
__global__ void to_bf16_kernel(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = to_bf16(x[i]);
}
__global__ void from_bf16_kernel(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_bf16(x[i]);
}
}  // namespace

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  if (n <= 0) return;
  to_bf16_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, y, n);
  check_launch("cast f32->bf16");
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  if (n <= 0) return;
  from_bf16_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, y, n);
  check_launch("cast bf16->f32");
}

}  // namespace vj::cuda
