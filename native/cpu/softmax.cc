// Softmax and cross-entropy for the probe head (EVAL-04).
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float mx = -INFINITY;
      for (int64_t c = 0; c < cols; c++) mx = std::max(mx, xr[c]);
      double s = 0;
      for (int64_t c = 0; c < cols; c++) {
        yr[c] = std::exp(xr[c] - mx);
        s += yr[c];
      }
      float inv = (float)(1.0 / s);
      for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
    }
  });
}

double cross_entropy(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t cols, float g) {
  std::vector<double> losses((size_t)rows);
  for (int64_t r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= cols)
      fail("crossEntropy: label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside [0, " +
           std::to_string(cols) + ")");
  parallel_for(rows, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = logits + r * cols;
      float mx = -INFINITY;
      for (int64_t c = 0; c < cols; c++) mx = std::max(mx, xr[c]);
      double s = 0;
      for (int64_t c = 0; c < cols; c++) s += std::exp((double)xr[c] - mx);
      double lse = mx + std::log(s);
      losses[(size_t)r] = lse - xr[labels[r]];
      if (dlogits) {
        float* dr = dlogits + r * cols;
        float scale = g / (float)rows;
        for (int64_t c = 0; c < cols; c++)
          dr[c] = scale * ((float)std::exp((double)xr[c] - lse) - (c == labels[r] ? 1.f : 0.f));
      }
    }
  });
  double total = 0;
  for (double l : losses) total += l;
  return total / (double)rows;
}

}  // namespace vj::cpu
