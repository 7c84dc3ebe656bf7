// Reductions accumulate in double where the result is a single number (grad norms,
// monitors): they are logged and compared across backends, so they must be stable.
#include <cmath>
#include <vector>

#include "cpu/bf16.h"
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

// Bias gradients sum ~3000 rows: a float running sum drifts by ~1e-4 there, double does not.
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate, uint16_t* xb) {
  parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
    std::vector<double> acc((size_t)(c1 - c0), 0.0);
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * cols;
      for (int64_t c = c0; c < c1; c++) acc[c - c0] += xr[c];
      if (xb)
        for (int64_t c = c0; c < c1; c++) xb[r * cols + c] = to_bf16(xr[c]);
    }
    for (int64_t c = c0; c < c1; c++) out[c] = (float)((accumulate ? (double)out[c] : 0.0) + acc[c - c0]);
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

double sum_squares_many(const float* const* xs, const int64_t* ns, int64_t count) {
  double s = 0;
  for (int64_t k = 0; k < count; k++) s += sum_squares(xs[k], ns[k]);
  return s;
}

double mean_col_std(const float* x, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return 0.0;
  // Two passes (mean, then centred squares): E[x^2] - mean^2 cancels when |mean| >> std.
  std::vector<double> mu((size_t)cols, 0.0), sq((size_t)cols, 0.0);
  parallel_for(cols, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = c0; c < c1; c++) mu[(size_t)c] += x[r * cols + c];
    for (int64_t c = c0; c < c1; c++) mu[(size_t)c] /= (double)rows;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = c0; c < c1; c++) {
        double d = x[r * cols + c] - mu[(size_t)c];
        sq[(size_t)c] += d * d;
      }
  });
  double total = 0;
  for (int64_t c = 0; c < cols; c++) total += std::sqrt(sq[(size_t)c] / (double)rows);
  return total / (double)cols;
}

}  // namespace vj::cpu
