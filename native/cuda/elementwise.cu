// fill, axpby, add_rowvec: grid-stride loops (out may alias x or y); scale_many over a tensor list.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/multi_tensor.cuh"

namespace vj::cuda {

namespace {
#define VJ_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void fill_kernel(float* x, int64_t n, float v) {
  VJ_GRID_LOOP(i, n) x[i] = v;
}
__global__ void axpby_kernel(const float* x, const float* y, float* out, int64_t n, float a, float b) {
  if (y) {
    VJ_GRID_LOOP(i, n) out[i] = a * x[i] + b * y[i];
  } else {
    VJ_GRID_LOOP(i, n) out[i] = a * x[i];
  }
}
__global__ void scale_many_kernel(MtBatch<1, 1> b, float a) {
  const MtChunk c = mt_chunk(b);
  float* __restrict__ x = static_cast<float*>(b.ptr[0][c.k]);
  for (int64_t i = c.i0 + threadIdx.x; i < c.i1; i += blockDim.x) x[i] = a * x[i];
}
__global__ void add_rowvec_kernel(const float* x, const float* v, float* out, int64_t rows, int64_t cols) {
  VJ_GRID_LOOP(i, rows * cols) out[i] = x[i] + v[i % cols];
}
}  // namespace

void fill(float* x, int64_t n, float v) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, n, v);
  check_launch("fill");
}

void axpby(const float* x, const float* y, float* out, int64_t n, float a, float b) {
  if (n <= 0) return;
  axpby_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(x, y, out, n, a, b);
  check_launch("axpby");
}

void scale_many(float* const* xs, const int64_t* ns, int64_t count, float a) {
  mt_apply<1, 1>(
      ns, count, [&](MtBatch<1, 1>& b, int s, int64_t k) { b.ptr[0][s] = xs[k]; },
      [&](const MtBatch<1, 1>& b, int blocks) {
        scale_many_kernel<<<blocks, kMtThreads, 0, stream()>>>(b, a);
        check_launch("scaleMany");
      });
}

void add_rowvec(const float* x, const float* v, float* out, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  add_rowvec_kernel<<<grid_for(rows * cols, 256), 256, 0, stream()>>>(x, v, out, rows, cols);
  check_launch("addRowvec");
}

}  // namespace vj::cuda
