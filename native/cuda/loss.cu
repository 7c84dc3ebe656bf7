// The JEPA prediction loss (TRAIN-08 d) and the variance-hinge std (TRAIN-08 e); sums in double
// as on the CPU, two-stage and deterministic.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace vj::cuda {

namespace {
__global__ void loss_partial_kernel(const float* __restrict__ p, const float* __restrict__ t, int64_t n, float e,
                                    double* part) {
  double s = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = fabsf(p[i] - t[i]);
    s += e == 1.f ? (double)d : (double)powf(d, e);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void loss_bwd_kernel(const float* __restrict__ p, const float* __restrict__ t, float* __restrict__ dp,
                                int64_t n, float e, float scale) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = p[i] - t[i];
    float s = d > 0.f ? 1.f : (d < 0.f ? -1.f : 0.f);
    dp[i] = e == 1.f || d == 0.f ? s * scale : s * powf(fabsf(d), e - 1.f) * scale;
  }
}

// One thread per (b, d): mean and unbiased variance over the K tokens, in double.
__global__ void token_mean_kernel(const float* __restrict__ x, double* __restrict__ mu, int64_t B, int64_t K,
                                  int64_t D) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * D; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = i / D, d = i % D;
    const float* xb = x + b * K * D + d;
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += xb[k * D];
    mu[i] = s / (double)K;
  }
}

__global__ void token_std_kernel(const float* __restrict__ x, const double* __restrict__ mu, float* __restrict__ std,
                                 int64_t B, int64_t K, int64_t D, float eps) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * D; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = i / D, d = i % D;
    const float* xb = x + b * K * D + d;
    double m = mu[i], v = 0;
    for (int64_t k = 0; k < K; k++) {
      double c = xb[k * D] - m;
      v += c * c;
    }
    std[i] = (float)sqrt(v / (double)(K - 1) + eps);
  }
}

__global__ void token_std_bwd_kernel(const float* __restrict__ x, const double* __restrict__ mu,
                                     const float* __restrict__ std, const float* __restrict__ gstd,
                                     float* __restrict__ dx, int64_t B, int64_t K, int64_t D) {
  int64_t total = B * K * D;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t d = i % D, b = i / (K * D);
    int64_t j = b * D + d;
    float s = std[j];
    dx[i] += gstd[j] * (float)((x[i] - mu[j]) / ((double)(K - 1) * s));
  }
}
}  // namespace

double loss_fwd(const float* p, const float* t, int64_t n, float e) {
  if (n <= 0) return 0.0;
  const int threads = 256;
  unsigned blocks = grid_for(n, threads * 8, 1024);
  Scratch part(sizeof(double) * (blocks + 1));
  double* d = part.as<double>();
  loss_partial_kernel<<<blocks, threads, 0, stream()>>>(p, t, n, e, d);
  check_launch("lossFwd");
  sum_doubles(d, blocks, d + blocks, "lossFwd");
  return read_double(d + blocks, "lossFwd") / (double)n / (double)e;
}

void loss_bwd(const float* p, const float* t, float* dp, int64_t n, float e, float g) {
  if (n <= 0) return;
  loss_bwd_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(p, t, dp, n, e, g / (float)n);
  check_launch("lossBwd");
}

void token_std_fwd(const float* x, float* std, int64_t B, int64_t K, int64_t D, float eps) {
  if (B <= 0 || D <= 0) return;
  Scratch mu(sizeof(double) * (size_t)(B * D));
  token_mean_kernel<<<grid_for(B * D, 128), 128, 0, stream()>>>(x, mu.as<double>(), B, K, D);
  check_launch("tokenStdFwd");
  token_std_kernel<<<grid_for(B * D, 128), 128, 0, stream()>>>(x, mu.as<double>(), std, B, K, D, eps);
  check_launch("tokenStdFwd");
}

void token_std_bwd(const float* x, const float* std, const float* gstd, float* dx, int64_t B, int64_t K, int64_t D) {
  if (B <= 0 || K <= 0 || D <= 0) return;
  Scratch mu(sizeof(double) * (size_t)(B * D));
  token_mean_kernel<<<grid_for(B * D, 128), 128, 0, stream()>>>(x, mu.as<double>(), B, K, D);
  check_launch("tokenStdBwd");
  token_std_bwd_kernel<<<grid_for(B * K * D, 256), 256, 0, stream()>>>(x, mu.as<double>(), std, gstd, dx, B, K, D);
  check_launch("tokenStdBwd");
}

}  // namespace vj::cuda
