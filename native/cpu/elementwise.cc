#include "cpu/kernels.h"
#include "cpu/multi_tensor.h"

namespace vj::cpu {

void fill(float* x, int64_t n, float v) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) x[i] = v;
  });
}

void axpby(const float* x, const float* y, float* out, int64_t n, float a, float b) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    if (y)
      for (int64_t i = i0; i < i1; i++) out[i] = a * x[i] + b * y[i];
    else
      for (int64_t i = i0; i < i1; i++) out[i] = a * x[i];
  });
}

void scale_many(float* const* xs, const int64_t* ns, int64_t count, float a) {
  parallel_for_tensors(ns, count, 1 << 14, [&](int64_t k, int64_t j0, int64_t j1) {
    float* x = xs[k];
    for (int64_t i = j0; i < j1; i++) x[i] = a * x[i];
  });
}

void add_rowvec(const float* x, const float* v, float* out, int64_t rows, int64_t cols) {
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] + v[c];
  });
}

}  // namespace vj::cpu
