// AdamW as torch.optim.AdamW: decoupled decay first, then the Adam update with bias
// corrections; and the EMA of the target encoder (TRAIN-07). Both take tensor lists (torch's
// foreach), split across the pool as one array (multi_tensor.h). The element loops are
// compiled three times (here, adamw_avx2.cc, adamw_avx512.cc) and picked by vj::cpu::isa().
#include <cmath>
#include <vector>

#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/multi_tensor.h"

namespace vj::cpu {

#define VJ_ADAMW_DECLARE(ns)                                                                                         \
  namespace ns {                                                                                                     \
  void adamw_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,          \
                   int64_t i0, int64_t i1, float decay, float beta1, float beta2, float eps, float step_size,        \
                   float bc2_sqrt);                                                                                  \
  void ema_range(float* __restrict target, const float* __restrict online, int64_t i0, int64_t i1, float m);         \
  }
VJ_ADAMW_DECLARE(portable)
#if defined(__x86_64__)
VJ_ADAMW_DECLARE(avx512)
VJ_ADAMW_DECLARE(avx2)
#endif
#undef VJ_ADAMW_DECLARE

namespace portable {
#include "adamw_loops.inc"
}  // namespace portable

void adamw_many(const AdamWTensor* ts, int64_t count, float beta1, float beta2, float eps) {
  auto k = portable::adamw_range;
#if defined(__x86_64__)
  if (isa() >= Isa::Avx512) k = avx512::adamw_range;
  else if (isa() == Isa::Avx2) k = avx2::adamw_range;
#endif
  std::vector<int64_t> ns((size_t)count);
  for (int64_t i = 0; i < count; i++) ns[(size_t)i] = ts[i].n;
  parallel_for_tensors(ns.data(), count, 1 << 14, [&](int64_t t, int64_t j0, int64_t j1) {
    const AdamWTensor& a = ts[t];
    k(a.p, a.g, a.m, a.v, j0, j1, a.decay, beta1, beta2, eps, a.step_size, a.bc2_sqrt);
  });
}

void ema_many(float* const* targets, const float* const* onlines, const int64_t* ns, int64_t count, float m) {
  auto k = portable::ema_range;
#if defined(__x86_64__)
  if (isa() >= Isa::Avx512) k = avx512::ema_range;
  else if (isa() == Isa::Avx2) k = avx2::ema_range;
#endif
  parallel_for_tensors(ns, count, 1 << 14, [&](int64_t t, int64_t j0, int64_t j1) { k(targets[t], onlines[t], j0, j1, m); });
}

}  // namespace vj::cpu
