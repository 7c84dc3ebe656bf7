// Exact (erf) GELU, as nn.GELU() with approximate='none'. The AVX-512 / AVX2 versions
// (gelu_avx512.cc, gelu_avx2.cc) use a vectorised erf with max rel err ~2e-7.
#include <algorithm>
#include <cmath>

#include "cpu/bf16.h"
#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

#if defined(__x86_64__)
namespace avx512 {
void gelu_fwd_range(const float* x, float* y, int64_t i0, int64_t i1);
void gelu_bwd_range(const float* x, const float* dy, float* dx, int64_t i0, int64_t i1);
}  // namespace avx512
namespace avx2 {
void gelu_fwd_range(const float* x, float* y, int64_t i0, int64_t i1);
void gelu_bwd_range(const float* x, const float* dy, float* dx, int64_t i0, int64_t i1);
}  // namespace avx2
#endif

namespace {

void fwd_portable(const float* x, float* y, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
}

void bwd_portable(const float* x, const float* dy, float* dx, int64_t i0, int64_t i1) {
  const float inv_sqrt_2pi = 0.39894228040143268f;
  for (int64_t i = i0; i < i1; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.f + std::erf(v * 0.70710678118654752f));
    float pdf = inv_sqrt_2pi * std::exp(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

}  // namespace

void gelu_fwd(const float* x, float* y, int64_t n) {
  auto k = fwd_portable;
#if defined(__x86_64__)
  if (isa() == Isa::Avx512) k = avx512::gelu_fwd_range;
  else if (isa() == Isa::Avx2) k = avx2::gelu_fwd_range;
#endif
  parallel_for(n, 8192, [&](int64_t i0, int64_t i1) { k(x, y, i0, i1); });
}

static auto bwd_kernel() {
  auto k = bwd_portable;
#if defined(__x86_64__)
  if (isa() == Isa::Avx512) k = avx512::gelu_bwd_range;
  else if (isa() == Isa::Avx2) k = avx2::gelu_bwd_range;
#endif
  return k;
}

void gelu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  auto k = bwd_kernel();
  parallel_for(n, 8192, [&](int64_t i0, int64_t i1) { k(x, dy, dx, i0, i1); });
}

// Widens x a tile at a time (every bf16 value is exact in fp32), so it is gelu_bwd to the bit.
void gelu_bwd_bf16(const uint16_t* x, const float* dy, float* dx, uint16_t* dx16, int64_t n) {
  auto k = bwd_kernel();
  parallel_for(n, 8192, [&](int64_t i0, int64_t i1) {
    constexpr int64_t kTile = 1024;
    alignas(64) float xs[kTile];
    for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
      int64_t len = std::min(kTile, i1 - t0);
      for (int64_t i = 0; i < len; i++) xs[i] = from_bf16(x[t0 + i]);
      k(xs, dy + t0, dx + t0, 0, len);
      if (dx16)
        for (int64_t i = t0; i < t0 + len; i++) dx16[i] = to_bf16(dx[i]);
    }
  });
}

}  // namespace vj::cpu
