// f32 <-> bf16 (stored as uint16): round to nearest even, NaN kept quiet, bit-identical to
// native/cpu/cast.cc (common.cuh's to_bf16 / from_bf16); f32 -> bf16 over a list too.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/multi_tensor.cuh"

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
__global__ void to_bf16_many_kernel(MtBatch<2, 1> b) {
  const MtChunk c = mt_chunk(b);
  const float* __restrict__ x = static_cast<const float*>(b.ptr[0][c.k]);
  uint16_t* __restrict__ y = static_cast<uint16_t*>(b.ptr[1][c.k]);
  for (int64_t i = c.i0 + threadIdx.x; i < c.i1; i += blockDim.x) y[i] = to_bf16(x[i]);
}
}  // namespace

void f32_to_bf16_many(const float* const* xs, uint16_t* const* ys, const int64_t* ns, int64_t count) {
  mt_apply<2, 1>(
      ns, count,
      [&](MtBatch<2, 1>& b, int s, int64_t k) {
        b.ptr[0][s] = const_cast<float*>(xs[k]);
        b.ptr[1][s] = ys[k];
      },
      [&](const MtBatch<2, 1>& b, int blocks) {
        to_bf16_many_kernel<<<blocks, kMtThreads, 0, stream()>>>(b);
        check_launch("castMany f32->bf16");
      });
}

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
