// LayerNorm over the last dim. Rows are split across threads; each thread runs a row kernel
// for the active instruction set (layernorm_avx512.cc / layernorm_avx2.cc, or the portable one here).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/bf16.h"
#include "cpu/cpuid.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

#if defined(__x86_64__)
#define VJ_LN_DECLARE(ns)                                                                                          \
  namespace ns {                                                                                                   \
  void layernorm_fwd_rows(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,      \
                          int64_t r0, int64_t r1, int64_t cols, float eps);                                        \
  void layernorm_bwd_rows(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,   \
                          float* dx, float* pdw, float* pdb, int64_t r0, int64_t r1, int64_t cols, bool acc);      \
  }
VJ_LN_DECLARE(avx512)
VJ_LN_DECLARE(avx2)
#undef VJ_LN_DECLARE
#endif

namespace {

using FwdRows = void (*)(const float*, const float*, const float*, float*, float*, float*, int64_t, int64_t, int64_t,
                         float);
using BwdRows = void (*)(const float*, const float*, const float*, const float*, const float*, float*, float*, float*,
                         int64_t, int64_t, int64_t, bool);

void fwd_rows_portable(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t r0,
                       int64_t r1, int64_t cols, float eps) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Two passes in float: mean, then centred variance (stable, matches PyTorch's CPU kernel to ~1 ulp).
    float s = 0.f;
    for (int64_t c = 0; c < cols; c++) s += xr[c];
    float mu = s / (float)cols;
    float v = 0.f;
    for (int64_t c = 0; c < cols; c++) {
      float d = xr[c] - mu;
      v += d * d;
    }
    float rs = 1.f / std::sqrt(v / (float)cols + eps);
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
    for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - mu) * rs * (w ? w[c] : 1.f) + (b ? b[c] : 0.f);
  }
}

void bwd_rows_portable(const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx,
                       float* pdw, float* pdb, int64_t r0, int64_t r1, int64_t cols, bool acc) {
  const float inv = 1.f / (float)cols;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    float mu = mean[r], rs = rstd[r];
    float sum_g = 0.f, sum_gx = 0.f;
    for (int64_t c = 0; c < cols; c++) {
      float xh = (xr[c] - mu) * rs;
      float g = dyr[c] * (w ? w[c] : 1.f);
      sum_g += g;
      sum_gx += g * xh;
      if (pdw) {
        pdw[c] += dyr[c] * xh;
        pdb[c] += dyr[c];
      }
    }
    for (int64_t c = 0; c < cols; c++) {
      float xh = (xr[c] - mu) * rs;
      float g = dyr[c] * (w ? w[c] : 1.f);
      const float d = rs * (g - inv * sum_g - xh * inv * sum_gx);
      dxr[c] = acc ? dxr[c] + d : d;
    }
  }
}

FwdRows fwd_kernel() {
#if defined(__x86_64__)
  if (isa() >= Isa::Avx512) return avx512::layernorm_fwd_rows;
  if (isa() == Isa::Avx2) return avx2::layernorm_fwd_rows;
#endif
  return fwd_rows_portable;
}

BwdRows bwd_kernel() {
#if defined(__x86_64__)
  if (isa() >= Isa::Avx512) return avx512::layernorm_bwd_rows;
  if (isa() == Isa::Avx2) return avx2::layernorm_bwd_rows;
#endif
  return bwd_rows_portable;
}

}  // namespace

void layernorm_fwd(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                   int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  FwdRows k = fwd_kernel();
  parallel_for(rows, std::max<int64_t>(1, 2048 / cols), [&](int64_t r0, int64_t r1) {
    k(x, w, b, y, mean, rstd, r0, r1, cols, eps);
  });
}

// A row at a time into a scratch row, then rounded: the fp32 kernel's values, to the bit.
void layernorm_fwd_bf16(const float* x, const float* w, const float* b, uint16_t* y, float* mean, float* rstd,
                        int64_t rows, int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  FwdRows k = fwd_kernel();
  parallel_for(rows, std::max<int64_t>(1, 2048 / cols), [&](int64_t r0, int64_t r1) {
    std::vector<float> row((size_t)cols);
    for (int64_t r = r0; r < r1; r++) {
      k(x + r * cols, w, b, row.data(), mean ? mean + r : nullptr, rstd ? rstd + r : nullptr, 0, 1, cols, eps);
      for (int64_t c = 0; c < cols; c++) y[r * cols + c] = to_bf16(row[(size_t)c]);
    }
  });
}

// A bf16 dy is widened a row at a time into a scratch row that the fp32 kernel reads: its values,
// to the bit.
void layernorm_bwd(const float* dy, const uint16_t* dy16, const float* x, const float* w, const float* mean,
                   const float* rstd, float* dx, float* dw, float* db, int64_t rows, int64_t cols, bool accumulate_dx) {
  if (rows <= 0 || cols <= 0) return;
  BwdRows k = bwd_kernel();
  const bool want_wb = dw || db;
  const int nt = num_threads();
  // Per-thread partial sums for dw/db (a cache line apart), reduced at the end: no atomics,
  // deterministic for a given thread count.
  const int64_t stride = (2 * cols + 15) / 16 * 16;
  std::vector<float> part(want_wb ? (size_t)nt * (size_t)stride : 0, 0.f);
  std::vector<char> used((size_t)nt, 0);
  parallel_run([&](int tid, int ntr) {
    int64_t r0 = rows * tid / ntr, r1 = rows * (tid + 1) / ntr;
    if (r0 >= r1) return;
    float* pdw = want_wb ? part.data() + (size_t)tid * stride : nullptr;
    if (!dy16) {
      k(dy, x, w, mean, rstd, dx, pdw, pdw ? pdw + cols : nullptr, r0, r1, cols, accumulate_dx);
    } else {
      std::vector<float> row((size_t)cols);
      for (int64_t r = r0; r < r1; r++) {
        from_bf16(dy16 + r * cols, row.data(), cols);
        k(row.data(), x + r * cols, w, mean + r, rstd + r, dx + r * cols, pdw, pdw ? pdw + cols : nullptr, 0, 1, cols,
          accumulate_dx);
      }
    }
    used[(size_t)tid] = 1;
  });
  if (!want_wb) return;
  for (int t = 0; t < nt; t++) {
    if (!used[(size_t)t]) continue;
    const float* pdw = part.data() + (size_t)t * stride;
    const float* pdb = pdw + cols;
    if (dw)
      for (int64_t c = 0; c < cols; c++) dw[c] += pdw[c];
    if (db)
      for (int64_t c = 0; c < cols; c++) db[c] += pdb[c];
  }
}

}  // namespace vj::cpu
