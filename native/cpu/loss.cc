// The JEPA prediction loss (TRAIN-08 d) and the variance-hinge regulariser's std (TRAIN-08 e).
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

double loss_fwd(const float* p, const float* t, int64_t n, float e) {
  int nt = num_threads();
  std::vector<double> part((size_t)nt, 0.0);
  parallel_run([&](int tid, int ntr) {
    int64_t i0 = n * tid / ntr, i1 = n * (tid + 1) / ntr;
    double s = 0;
    if (e == 1.f)
      for (int64_t i = i0; i < i1; i++) s += std::fabs(p[i] - t[i]);
    else
      for (int64_t i = i0; i < i1; i++) s += std::pow(std::fabs(p[i] - t[i]), e);
    part[(size_t)tid] = s;
  });
  double s = 0;
  for (double v : part) s += v;
  return s / (double)n / (double)e;
}

void loss_bwd(const float* p, const float* t, float* dp, int64_t n, float e, float g) {
  // d/dp mean(|d|^e)/e = sign(d) |d|^(e-1) / n; sign(0) = 0 as in PyTorch.
  float scale = g / (float)n;
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      float d = p[i] - t[i];
      float s = d > 0.f ? 1.f : (d < 0.f ? -1.f : 0.f);
      // d == 0 gives 0 for every e (0 * pow(0, e - 1) would be NaN for e < 1)
      dp[i] = e == 1.f || d == 0.f ? s * scale : s * std::pow(std::fabs(d), e - 1.f) * scale;
    }
  });
}

void token_std_fwd(const float* x, float* std, int64_t B, int64_t K, int64_t D, float eps) {
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> mu((size_t)D), var((size_t)D);
    for (int64_t b = b0; b < b1; b++) {
      std::fill(mu.begin(), mu.end(), 0.0);
      std::fill(var.begin(), var.end(), 0.0);
      const float* xb = x + b * K * D;
      for (int64_t k = 0; k < K; k++)
        for (int64_t d = 0; d < D; d++) mu[(size_t)d] += xb[k * D + d];
      for (int64_t d = 0; d < D; d++) mu[(size_t)d] /= (double)K;
      for (int64_t k = 0; k < K; k++)
        for (int64_t d = 0; d < D; d++) {
          double c = xb[k * D + d] - mu[(size_t)d];
          var[(size_t)d] += c * c;
        }
      for (int64_t d = 0; d < D; d++) std[b * D + d] = (float)std::sqrt(var[(size_t)d] / (double)(K - 1) + eps);
    }
  });
}

void token_std_bwd(const float* x, const float* std, const float* gstd, float* dx, int64_t B, int64_t K, int64_t D) {
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> mu((size_t)D);
    for (int64_t b = b0; b < b1; b++) {
      std::fill(mu.begin(), mu.end(), 0.0);
      const float* xb = x + b * K * D;
      for (int64_t k = 0; k < K; k++)
        for (int64_t d = 0; d < D; d++) mu[(size_t)d] += xb[k * D + d];
      for (int64_t d = 0; d < D; d++) mu[(size_t)d] /= (double)K;
      // d std / d x_k = (x_k - mean) / ((K - 1) std)
      for (int64_t k = 0; k < K; k++)
        for (int64_t d = 0; d < D; d++) {
          float s = std[b * D + d];
          dx[(b * K + k) * D + d] += gstd[b * D + d] * (float)((xb[k * D + d] - mu[(size_t)d]) / ((double)(K - 1) * s));
        }
    }
  });
}

}  // namespace vj::cpu
