// AdamW as torch.optim.AdamW (foreach=False): decoupled decay first, then the Adam update
// with bias corrections; and the EMA of the target encoder (TRAIN-07).
#include <cmath>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, int64_t step) {
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)(lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = 1.f - lr * wd;
  parallel_for(n, 1 << 13, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      float pi = p[i] * decay;
      float gi = g[i];
      float mi = m[i] + (gi - m[i]) * (1.f - beta1);  // torch's lerp form
      float vi = v[i] * beta2 + (1.f - beta2) * gi * gi;
      float denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = pi - step_size * (mi / denom);
      m[i] = mi;
      v[i] = vi;
    }
  });
}

void ema(float* target, const float* online, int64_t n, float m) {
  const float om = 1.f - m;
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) target[i] = target[i] * m + om * online[i];
  });
}

}  // namespace vj::cpu
