// Row softmax and softmax cross-entropy for the probe head (EVAL-04): one warp per row, sums in
// double as on the CPU. Labels live on the device: a bad one is flagged in the kernel and
// reported when the loss is read back (cross_entropy synchronises anyway).
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace vj::cuda {

namespace {
constexpr int kWarps = 8;

__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t cols) {
  int lane = threadIdx.x & 31;
  int64_t r = blockIdx.x * (int64_t)kWarps + (threadIdx.x >> 5);
  if (r >= rows) return;
  const float* xr = x + r * cols;
  float* yr = y + r * cols;
  float mx = -INFINITY;
  for (int64_t c = lane; c < cols; c += 32) mx = fmaxf(mx, xr[c]);
  mx = warp_max(mx);
  double s = 0;
  for (int64_t c = lane; c < cols; c += 32) {
    float e = expf(xr[c] - mx);
    yr[c] = e;
    s += e;
  }
  s = warp_sum(s);
  float inv = (float)(1.0 / s);
  __syncwarp();
  for (int64_t c = lane; c < cols; c += 32) yr[c] *= inv;
}

__global__ void cross_entropy_kernel(const float* __restrict__ logits, const int32_t* __restrict__ labels,
                                     float* __restrict__ dlogits, int64_t rows, int64_t cols, float scale,
                                     double* __restrict__ losses, int* flags) {
  int lane = threadIdx.x & 31;
  int64_t r = blockIdx.x * (int64_t)kWarps + (threadIdx.x >> 5);
  if (r >= rows) return;
  int32_t lab = labels[r];
  if (lab < 0 || lab >= cols) {
    if (lane == 0) {
      atomicCAS(&flags[kErrLabel], 0, (int)(r + 1));
      losses[r] = 0;
    }
    return;
  }
  const float* xr = logits + r * cols;
  float mx = -INFINITY;
  for (int64_t c = lane; c < cols; c += 32) mx = fmaxf(mx, xr[c]);
  mx = warp_max(mx);
  double s = 0;
  for (int64_t c = lane; c < cols; c += 32) s += exp((double)xr[c] - mx);
  s = warp_sum(s);
  double lse = mx + log(s);
  if (lane == 0) losses[r] = lse - xr[lab];
  if (dlogits) {
    float* dr = dlogits + r * cols;
    for (int64_t c = lane; c < cols; c += 32)
      dr[c] = scale * ((float)exp((double)xr[c] - lse) - (c == lab ? 1.f : 0.f));
  }
}
}  // namespace

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  softmax_kernel<<<(unsigned)((rows + kWarps - 1) / kWarps), kWarps * 32, 0, stream()>>>(x, y, rows, cols);
  check_launch("softmax");
}

double cross_entropy(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t cols, float g) {
  if (rows <= 0) return 0.0;
  Scratch losses(sizeof(double) * (size_t)(rows + 1));
  double* l = losses.as<double>();
  cross_entropy_kernel<<<(unsigned)((rows + kWarps - 1) / kWarps), kWarps * 32, 0, stream()>>>(
      logits, labels, dlogits, rows, cols, g / (float)rows, l, error_flags());
  check_launch("crossEntropy");
  sum_doubles(l, rows, l + rows, "crossEntropy");
  return read_double(l + rows, "crossEntropy") / (double)rows;
}

}  // namespace vj::cuda
