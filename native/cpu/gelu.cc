// Exact (erf) GELU, as nn.GELU() with approximate='none'. The AVX-512 / AVX2 versions
// (gelu_avx512.cc, gelu_avx2.cc) use a vectorised erf with max rel err ~2e-7.
#include <algorithm>
#include <cmath>
#include <vector>

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
  if (isa() >= Isa::Avx512) k = avx512::gelu_fwd_range;
  else if (isa() == Isa::Avx2) k = avx2::gelu_fwd_range;
#endif
  parallel_for(n, 8192, [&](int64_t i0, int64_t i1) { k(x, y, i0, i1); });
}

static auto bwd_kernel() {
  auto k = bwd_portable;
#if defined(__x86_64__)
  if (isa() >= Isa::Avx512) k = avx512::gelu_bwd_range;
  else if (isa() == Isa::Avx2) k = avx2::gelu_bwd_range;
#endif
  return k;
}

void gelu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  auto k = bwd_kernel();
  parallel_for(n, 8192, [&](int64_t i0, int64_t i1) { k(x, dy, dx, i0, i1); });
}

// Widens x (and a bf16 dy) a tile at a time (every bf16 value is exact in fp32), so it is gelu_bwd
// to the bit: each tile [t0, t0 + len) goes through the fp32 kernel into a scratch tile, then to
// dx, dx16 and the column sums.
namespace {
constexpr int64_t kTile = 1024;
template <class Bwd>
void gelu_bwd_bf16_tile(Bwd k, const uint16_t* x, const float* dy, const uint16_t* dy16, float* dx, uint16_t* dx16,
                        int64_t t0, int64_t len, float* ds) {
  alignas(64) float xs[kTile], gs[kTile];
  from_bf16(x + t0, xs, len);
  if (dy16) from_bf16(dy16 + t0, gs, len);
  k(xs, dy16 ? gs : dy + t0, ds, 0, len);
  if (dx) std::copy(ds, ds + len, dx + t0);
  if (dx16)
    for (int64_t i = 0; i < len; i++) dx16[t0 + i] = to_bf16(ds[i]);
}
}  // namespace

void gelu_bwd_bf16(const uint16_t* x, const float* dy, const uint16_t* dy16, float* dx, uint16_t* dx16, float* db,
                   int64_t rows, int64_t cols, bool accumulate) {
  auto k = bwd_kernel();
  if (!db) {
    parallel_for(rows * cols, 8192, [&](int64_t i0, int64_t i1) {
      alignas(64) float ds[kTile];
      for (int64_t t0 = i0; t0 < i1; t0 += kTile) gelu_bwd_bf16_tile(k, x, dy, dy16, dx, dx16, t0, std::min(kTile, i1 - t0), ds);
    });
    return;
  }
  // With the bias gradient: each thread owns columns and walks every row, summing in row order in
  // double, so db has sum_rows' bits.
  parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
    std::vector<double> acc((size_t)(c1 - c0), 0.0);
    alignas(64) float ds[kTile];
    for (int64_t r = 0; r < rows; r++)
      for (int64_t s0 = c0; s0 < c1; s0 += kTile) {
        const int64_t len = std::min(kTile, c1 - s0);
        gelu_bwd_bf16_tile(k, x, dy, dy16, dx, dx16, r * cols + s0, len, ds);
        for (int64_t i = 0; i < len; i++) acc[(size_t)(s0 - c0 + i)] += ds[i];
      }
    for (int64_t c = c0; c < c1; c++) db[c] = (float)((accumulate ? (double)db[c] : 0.0) + acc[(size_t)(c - c0)]);
  });
}

}  // namespace vj::cpu
