// Token indexing: apply_masks (gather), its backward (scatter-add), and block copies for
// concat / slice / repeat along the batch (MASK-06).
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void gather_rows(const float* x, const int32_t* idx, float* out, int64_t B, int64_t x_batch, int64_t N, int64_t K,
                 int64_t D) {
  parallel_for(B * K, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t b = r / K;
      int64_t bx = x_batch == 1 ? 0 : b;
      std::memcpy(out + r * D, x + (bx * N + idx[r]) * D, sizeof(float) * (size_t)D);
    }
  });
}

void scatter_add_rows(const float* dout, const int32_t* idx, float* dx, int64_t B, int64_t x_batch, int64_t N,
                      int64_t K, int64_t D) {
  if (x_batch == 1) {
    // Rows of different samples hit the same destination: split the feature axis instead.
    parallel_for(D, 16, [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < B * K; r++) {
        float* d = dx + (int64_t)idx[r] * D;
        const float* s = dout + r * D;
        for (int64_t c = c0; c < c1; c++) d[c] += s[c];
      }
    });
    return;
  }
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      for (int64_t k = 0; k < K; k++) {
        float* d = dx + (b * N + idx[b * K + k]) * D;
        const float* s = dout + (b * K + k) * D;
        for (int64_t c = 0; c < D; c++) d[c] += s[c];
      }
  });
}

void copy_blocks(const float* src, float* dst, int64_t outer, int64_t inner, int64_t src_stride, int64_t dst_stride,
                 bool accumulate) {
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
      const float* s = src + o * src_stride;
      float* d = dst + o * dst_stride;
      if (accumulate)
        for (int64_t i = 0; i < inner; i++) d[i] += s[i];
      else
        std::memmove(d, s, sizeof(float) * (size_t)inner);
    }
  });
}

}  // namespace vj::cpu
