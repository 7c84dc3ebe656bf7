// Reductions accumulate in double where the result is a single number (grad norms,
// monitors): they are logged and compared across backends, so they must be stable.
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate) {
  parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
    std::vector<float> acc((size_t)(c1 - c0), 0.f);
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * cols;
      for (int64_t c = c0; c < c1; c++) acc[c - c0] += xr[c];
    }
    for (int64_t c = c0; c < c1; c++) out[c] = (accumulate ? out[c] : 0.f) + acc[c - c0];
  });
}

double sum_squares(const float* x, int64_t n) {
  int nt = num_threads();
  std::vector<double> part((size_t)nt, 0.0);
  parallel_run([&](int tid, int ntr) {
    int64_t i0 = n * tid / ntr, i1 = n * (tid + 1) / ntr;
    double s = 0;
    for (int64_t i = i0; i < i1; i++) s += (double)x[i] * (double)x[i];
    part[(size_t)tid] = s;
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

double mean_col_std(const float* x, int64_t rows, int64_t cols) {
  std::vector<double> sum((size_t)cols, 0.0), sq((size_t)cols, 0.0);
  parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = c0; c < c1; c++) {
        double v = x[r * cols + c];
        sum[(size_t)c] += v;
        sq[(size_t)c] += v * v;
      }
  });
  double total = 0;
  for (int64_t c = 0; c < cols; c++) {
    double mu = sum[(size_t)c] / (double)rows;
    double var = std::max(0.0, sq[(size_t)c] / (double)rows - mu * mu);
    total += std::sqrt(var);
  }
  return cols ? total / (double)cols : 0.0;
}

}  // namespace vj::cpu
