// Token gather (apply_masks), its backward scatter-add, and block copies (MASK-06).
// Indices are not checked on the host for device tensors: kernels skip out-of-range rows and
// set a deferred error flag, raised at the next synchronisation (common.cuh).
// scatter_add_rows uses atomics: deterministic when no destination row repeats (unique token
// indices per sample with x_batch == B); with x_batch == 1 (or repeated indices) the float
// summation order can vary between runs.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {
__device__ __forceinline__ void flag(int* flags, int code, int64_t pos) {
  atomicCAS(&flags[code], 0, (int)(pos < 2147483646 ? pos + 1 : 2147483647));
}

__global__ void gather_kernel(const float* __restrict__ x, const int32_t* __restrict__ idx, float* __restrict__ out,
                              int64_t B, int64_t x_batch, int64_t N, int64_t K, int64_t D, int* flags) {
  int64_t total = B * K * D;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / D, d = i % D;
    int64_t b = r / K;
    int64_t bx = x_batch == 1 ? 0 : b;
    int32_t j = idx[r];
    if (j < 0 || j >= N) {
      out[i] = 0.f;
      if (d == 0) flag(flags, kErrGatherIndex, r);
      continue;
    }
    out[i] = x[(bx * N + j) * D + d];
  }
}

__global__ void scatter_add_kernel(const float* __restrict__ dout, const int32_t* __restrict__ idx,
                                   float* __restrict__ dx, int64_t B, int64_t x_batch, int64_t N, int64_t K,
                                   int64_t D, int* flags) {
  int64_t total = B * K * D;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / D, d = i % D;
    int64_t b = r / K;
    int64_t bx = x_batch == 1 ? 0 : b;
    int32_t j = idx[r];
    if (j < 0 || j >= N) {
      if (d == 0) flag(flags, kErrScatterIndex, r);
      continue;
    }
    atomicAdd(&dx[(bx * N + j) * D + d], dout[i]);
  }
}

__global__ void copy_blocks_kernel(const float* src, float* dst, int64_t outer, int64_t inner, int64_t ss, int64_t ds,
                                   bool acc) {
  int64_t total = outer * inner;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = i / inner, k = i % inner;
    float v = src[o * ss + k];
    if (acc) dst[o * ds + k] += v;
    else dst[o * ds + k] = v;
  }
}
}  // namespace

void gather_rows(const float* x, const int32_t* idx, float* out, int64_t B, int64_t x_batch, int64_t N, int64_t K,
                 int64_t D) {
  int64_t total = B * K * D;
  if (total <= 0) return;
  gather_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(x, idx, out, B, x_batch, N, K, D, error_flags());
  check_launch("gatherRows");
}

void scatter_add_rows(const float* dout, const int32_t* idx, float* dx, int64_t B, int64_t x_batch, int64_t N,
                      int64_t K, int64_t D) {
  int64_t total = B * K * D;
  if (total <= 0) return;
  scatter_add_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(dout, idx, dx, B, x_batch, N, K, D, error_flags());
  check_launch("scatterAddRows");
}

// Non-accumulating copies of whole rows use cudaMemcpy2DAsync; overlapping src/dst ranges
// (other than src == dst) are not supported on the GPU, unlike the CPU's memmove.
void copy_blocks(const float* src, float* dst, int64_t outer, int64_t inner, int64_t src_stride, int64_t dst_stride,
                 bool accumulate) {
  if (outer <= 0 || inner <= 0) return;
  if (!accumulate && src == dst) return;
  if (!accumulate && (outer == 1 || (src_stride >= inner && dst_stride >= inner))) {
    size_t w = (size_t)inner * sizeof(float);
    check(cudaMemcpy2DAsync(dst, (size_t)(outer == 1 ? inner : dst_stride) * sizeof(float), src,
                            (size_t)(outer == 1 ? inner : src_stride) * sizeof(float), w, (size_t)outer,
                            cudaMemcpyDeviceToDevice, stream()),
          "copyBlocks (cudaMemcpy2DAsync)");
    return;
  }
  int64_t total = outer * inner;
  copy_blocks_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(src, dst, outer, inner, src_stride, dst_stride,
                                                                  accumulate);
  check_launch("copyBlocks");
}

}  // namespace vj::cuda
