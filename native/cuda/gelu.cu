// Exact (erf) GELU. 1 + erf(z) is computed as erfc(-z) so the negative tail keeps its relative
// accuracy, as the CPU's vector kernels do.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {
__global__ void gelu_fwd_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = x[i];
    y[i] = 0.5f * v * erfcf(-v * 0.70710678118654752f);
  }
}
__device__ __forceinline__ float gelu_grad(float v) {
  const float inv_sqrt_2pi = 0.39894228040143268f;
  float cdf = 0.5f * erfcf(-v * 0.70710678118654752f);
  float pdf = inv_sqrt_2pi * expf(-0.5f * v * v);
  return cdf + v * pdf;
}
__global__ void gelu_bwd_kernel(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = dy[i] * gelu_grad(x[i]);
}
// Mixed precision: reads the bf16 pre-activation and writes the gradient in fp32 (for the bias)
// and bf16 (the next GEMMs' operand) in one pass.
__global__ void gelu_bwd_bf16_kernel(const uint16_t* x, const float* dy, float* dx, uint16_t* dx16, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = dy[i] * gelu_grad(from_bf16(x[i]));
    dx[i] = d;
    if (dx16) dx16[i] = to_bf16(d);
  }
}
}  // namespace

void gelu_fwd(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  gelu_fwd_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, y, n);
  check_launch("geluFwd");
}

void gelu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  if (n <= 0) return;
  gelu_bwd_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, dy, dx, n);
  check_launch("geluBwd");
}

void gelu_bwd_bf16(const uint16_t* x, const float* dy, float* dx, uint16_t* dx16, int64_t n) {
  if (n <= 0) return;
  gelu_bwd_bf16_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, dy, dx, dx16, n);
  check_launch("geluBwd (bf16)");
}

}  // namespace vj::cuda
