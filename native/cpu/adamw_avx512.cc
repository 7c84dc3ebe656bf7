// AdamW / EMA element loops built for AVX-512 (picked at run time by adamw.cc); the same
// loops as adamw.cc's portable ones.
#include <cmath>
#include <cstdint>

namespace vj::cpu::avx512 {

// The plain loop below is vectorised by the compiler at this file's instruction set.
void adamw_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t i0,
                 int64_t i1, float decay, float beta1, float beta2, float eps, float step_size, float bc2_sqrt) {
  const float omb1 = 1.f - beta1, omb2 = 1.f - beta2;
#pragma GCC ivdep
  for (int64_t i = i0; i < i1; i++) {
    float pi = p[i] * decay;
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * omb1;  // torch's lerp form
    float vi = v[i] * beta2 + omb2 * gi * gi;
    float denom = std::sqrt(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}

void ema_range(float* __restrict target, const float* __restrict online, int64_t i0, int64_t i1, float m) {
  const float om = 1.f - m;
#pragma GCC ivdep
  for (int64_t i = i0; i < i1; i++) target[i] = target[i] * m + om * online[i];
}

}  // namespace vj::cpu::avx512
