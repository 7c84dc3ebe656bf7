// AdamW as torch.optim.AdamW (foreach=False), and the target encoder's EMA; the scalar
// factors are formed on the host exactly as native/cpu/adamw.cc forms them.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {
__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, float decay, float beta1, float beta2, float eps,
                             float step_size, float bc2_sqrt) {
  const float omb1 = 1.f - beta1, omb2 = 1.f - beta2;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float pi = p[i] * decay;
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * omb1;  // torch's lerp form
    float vi = v[i] * beta2 + omb2 * gi * gi;
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}
__global__ void ema_kernel(float* __restrict__ t, const float* __restrict__ o, int64_t n, float mom) {
  const float om = 1.f - mom;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    t[i] = t[i] * mom + om * o[i];
}
}  // namespace

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, int64_t step) {
  if (n <= 0) return;
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)(lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = (float)(1.0 - (double)lr * (double)wd);
  adamw_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(p, g, m, v, n, decay, beta1, beta2, eps, step_size, bc2_sqrt);
  check_launch("adamw");
}

void ema(float* target, const float* online, int64_t n, float m) {
  if (n <= 0) return;
  ema_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(target, online, n, m);
  check_launch("ema");
}

}  // namespace vj::cuda
