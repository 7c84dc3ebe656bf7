// AdamW as torch.optim.AdamW (foreach=False): decoupled decay first, then the Adam update
// with bias corrections; and the EMA of the target encoder (TRAIN-07). The element loops are
// compiled three times (here, adamw_avx2.cc, adamw_avx512.cc) and picked by vj::cpu::isa().
#include <cmath>

#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

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

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, int64_t step) {
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)(lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = (float)(1.0 - (double)lr * (double)wd);  // torch forms 1 - lr*wd in double
  auto k = portable::adamw_range;
#if defined(__x86_64__)
  if (isa() == Isa::Avx512) k = avx512::adamw_range;
  else if (isa() == Isa::Avx2) k = avx2::adamw_range;
#endif
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) { k(p, g, m, v, i0, i1, decay, beta1, beta2, eps, step_size, bc2_sqrt); });
}

void ema(float* target, const float* online, int64_t n, float m) {
  auto k = portable::ema_range;
#if defined(__x86_64__)
  if (isa() == Isa::Avx512) k = avx512::ema_range;
  else if (isa() == Isa::Avx2) k = avx2::ema_range;
#endif
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) { k(target, online, i0, i1, m); });
}

}  // namespace vj::cpu
