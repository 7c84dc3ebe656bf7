// Baseline GEMM: correct for every transpose/stride combination, parallel over rows.
// The packed, vectorised kernels replace the inner loops (see gemm_avx512.cc).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

static inline float gelu_exact(float x) { return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f)); }

void gemm(const GemmArgs& g) {
  const int64_t M = g.M, N = g.N, K = g.K;
  for (int64_t b = 0; b < g.batch; b++) {
    const float* A = g.A + b * g.stride_a;
    const float* B = g.B + b * g.stride_b;
    float* C = g.C + b * g.stride_c;
    float* P = g.pre ? g.pre + b * g.stride_c : nullptr;
    parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
      std::vector<float> acc((size_t)N);
      for (int64_t m = m0; m < m1; m++) {
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t k = 0; k < K; k++) {
          float a = g.trans_a ? A[k * g.lda + m] : A[m * g.lda + k];
          if (a == 0.f) continue;
          if (!g.trans_b) {
            const float* brow = B + k * g.ldb;
            for (int64_t n = 0; n < N; n++) acc[n] += a * brow[n];
          } else {
            for (int64_t n = 0; n < N; n++) acc[n] += a * B[n * g.ldb + k];
          }
        }
        float* crow = C + m * g.ldc;
        for (int64_t n = 0; n < N; n++) {
          float v = g.alpha * acc[n];
          if (g.beta != 0.f) v += g.beta * crow[n];
          if (g.bias) v += g.bias[n];
          if (g.gelu) {
            if (P) P[m * g.ldc + n] = v;
            v = gelu_exact(v);
          }
          crow[n] = v;
        }
      }
    });
  }
}

}  // namespace vj::cpu
