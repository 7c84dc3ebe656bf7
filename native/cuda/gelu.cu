// Exact (erf) GELU. 1 + erf(z) is computed as erfc(-z) so the negative tail keeps its relative
// accuracy, as the CPU's vector kernels do.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

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
// Mixed precision: element i of the gradient from the bf16 pre-activation, stored in fp32 and in
// bf16 (the next GEMMs' operand) where asked.
struct GeluBwdBf16 {
  const uint16_t* __restrict__ x;
  const float* __restrict__ dy;      // or
  const uint16_t* __restrict__ dy16;  // fc2's input gradient in bf16
  float* __restrict__ dx;
  uint16_t* __restrict__ dx16;
  __device__ __forceinline__ float operator()(int64_t i) const {
    const float d = (dy16 ? from_bf16(dy16[i]) : dy[i]) * gelu_grad(from_bf16(x[i]));
    if (dx) dx[i] = d;
    if (dx16) dx16[i] = to_bf16(d);
    return d;
  }
};
__global__ void gelu_bwd_bf16_kernel(GeluBwdBf16 f, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) f(i);
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

// With db, fc1's bias gradient is summed from the same values in the same pass (reduce_util.cuh), so the
// fp32 gradient need not be stored at all.
void gelu_bwd_bf16(const uint16_t* x, const float* dy, const uint16_t* dy16, float* dx, uint16_t* dx16, float* db,
                   int64_t rows, int64_t cols, bool accumulate) {
  const GeluBwdBf16 f{x, dy, dy16, dx, dx16};
  if (db) {
    col_sums(rows, cols, db, accumulate, "geluBwd (bf16)", [&](dim3 grid, dim3 block, double* part) {
      col_partial_value_kernel<GeluBwdBf16><<<grid, block, 0, stream()>>>(f, rows, cols, kChunkRows, part);
    });
    return;
  }
  const int64_t n = rows * cols;
  if (n <= 0) return;
  gelu_bwd_bf16_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(f, n);
  check_launch("geluBwd (bf16)");
}

}  // namespace vj::cuda
