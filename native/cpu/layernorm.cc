#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void layernorm_fwd(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                   int64_t cols, float eps) {
  parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
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
      if (w) {
        for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - mu) * rs * w[c] + (b ? b[c] : 0.f);
      } else {
        for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - mu) * rs + (b ? b[c] : 0.f);
      }
    }
  });
}

void layernorm_bwd(const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx,
                   float* dw, float* db, int64_t rows, int64_t cols) {
  int nt = num_threads();
  // Per-thread partial sums for dw/db, reduced at the end (no atomics, deterministic for a given thread count).
  std::vector<float> part((size_t)nt * (size_t)cols * 2, 0.f);
  parallel_run([&](int tid, int ntr) {
    int64_t r0 = rows * tid / ntr, r1 = rows * (tid + 1) / ntr;
    float* pdw = part.data() + (size_t)tid * cols * 2;
    float* pdb = pdw + cols;
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      float mu = mean[r], rs = rstd[r];
      float sum_g = 0.f, sum_gx = 0.f;
      for (int64_t c = 0; c < cols; c++) {
        float xh = (xr[c] - mu) * rs;
        float g = dyr[c] * (w ? w[c] : 1.f);
        sum_g += g;
        sum_gx += g * xh;
        pdw[c] += dyr[c] * xh;
        pdb[c] += dyr[c];
      }
      float inv = 1.f / (float)cols;
      float* dxr = dx + r * cols;
      for (int64_t c = 0; c < cols; c++) {
        float xh = (xr[c] - mu) * rs;
        float g = dyr[c] * (w ? w[c] : 1.f);
        dxr[c] = rs * (g - inv * sum_g - xh * inv * sum_gx);
      }
    }
  });
  int used = std::min<int64_t>(nt, rows) > 0 ? nt : 1;
  for (int t = 0; t < used; t++) {
    const float* pdw = part.data() + (size_t)t * cols * 2;
    const float* pdb = pdw + cols;
    for (int64_t c = 0; c < cols; c++) {
      if (dw) dw[c] += pdw[c];
      if (db) db[c] += pdb[c];
    }
  }
}

}  // namespace vj::cpu
