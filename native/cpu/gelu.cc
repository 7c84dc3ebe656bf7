#include <cmath>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

// Exact (erf) GELU, as nn.GELU() with approximate='none'.
void gelu_fwd(const float* x, float* y, int64_t n) {
  parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
  });
}

void gelu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  const float inv_sqrt_2pi = 0.39894228040143268f;
  parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      float v = x[i];
      float cdf = 0.5f * (1.f + std::erf(v * 0.70710678118654752f));
      float pdf = inv_sqrt_2pi * std::exp(-0.5f * v * v);
      dx[i] = dy[i] * (cdf + v * pdf);
    }
  });
}

}  // namespace vj::cpu
