// AdamW as torch.optim.AdamW and the target encoder's EMA, over tensor lists (multi_tensor.cuh);
// the per-tensor factors come from api/optim_api.cc, as on the CPU, so both compute the same bits.
#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/multi_tensor.cuh"

namespace vj::cuda {

namespace {
using AdamWBatch = MtBatch<4, 3>;  // p, g, m, v; decay, step_size, bc2_sqrt
using EmaBatch = MtBatch<2, 1>;    // target, online

__global__ void adamw_many_kernel(AdamWBatch b, float beta1, float beta2, float eps) {
  const MtChunk c = mt_chunk(b);
  float* __restrict__ p = static_cast<float*>(b.ptr[0][c.k]);
  const float* __restrict__ g = static_cast<const float*>(b.ptr[1][c.k]);
  float* __restrict__ m = static_cast<float*>(b.ptr[2][c.k]);
  float* __restrict__ v = static_cast<float*>(b.ptr[3][c.k]);
  const float decay = b.arg[0][c.k], step_size = b.arg[1][c.k], bc2_sqrt = b.arg[2][c.k];
  const float omb1 = 1.f - beta1, omb2 = 1.f - beta2;
  for (int64_t i = c.i0 + threadIdx.x; i < c.i1; i += blockDim.x) {
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

__global__ void ema_many_kernel(EmaBatch b, float mom) {
  const MtChunk c = mt_chunk(b);
  float* __restrict__ t = static_cast<float*>(b.ptr[0][c.k]);
  const float* __restrict__ o = static_cast<const float*>(b.ptr[1][c.k]);
  const float om = 1.f - mom;
  for (int64_t i = c.i0 + threadIdx.x; i < c.i1; i += blockDim.x) t[i] = t[i] * mom + om * o[i];
}
}  // namespace

void adamw_many(const AdamWTensor* ts, int64_t count, float beta1, float beta2, float eps) {
  std::vector<int64_t> ns((size_t)count);
  for (int64_t k = 0; k < count; k++) ns[(size_t)k] = ts[k].n;
  mt_apply<4, 3>(
      ns.data(), count,
      [&](AdamWBatch& b, int s, int64_t k) {
        const AdamWTensor& a = ts[k];
        b.ptr[0][s] = a.p;
        b.ptr[1][s] = const_cast<float*>(a.g);
        b.ptr[2][s] = a.m;
        b.ptr[3][s] = a.v;
        b.arg[0][s] = a.decay;
        b.arg[1][s] = a.step_size;
        b.arg[2][s] = a.bc2_sqrt;
      },
      [&](const AdamWBatch& b, int blocks) {
        adamw_many_kernel<<<blocks, kMtThreads, 0, stream()>>>(b, beta1, beta2, eps);
        check_launch("adamwMany");
      });
}

void ema_many(float* const* targets, const float* const* onlines, const int64_t* ns, int64_t count, float m) {
  mt_apply<2, 1>(
      ns, count,
      [&](EmaBatch& b, int s, int64_t k) {
        b.ptr[0][s] = targets[k];
        b.ptr[1][s] = const_cast<float*>(onlines[k]);
      },
      [&](const EmaBatch& b, int blocks) {
        ema_many_kernel<<<blocks, kMtThreads, 0, stream()>>>(b, m);
        check_launch("emaMany");
      });
}

}  // namespace vj::cuda
