// Tubelet unfold: the conv with kernel == stride is unfold + GEMM; only the kept tokens
// need unfolding (MOD-01), which saves the embedding cost of the dropped ones.
#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void unfold_tubelets(const float* x, const int32_t* idx, float* out, int64_t B, int64_t C, int64_t T, int64_t H,
                     int64_t W, int64_t t, int64_t p, int64_t K) {
  const int64_t Hp = H / p, Wp = W / p;
  const int64_t row = C * t * p * p;
  parallel_for(B * K, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t b = r / K, kk = r % K;
      int64_t tok = idx ? idx[r] : kk;
      int64_t d = tok / (Hp * Wp), h = (tok / Wp) % Hp, w = tok % Wp;
      float* o = out + r * row;
      for (int64_t c = 0; c < C; c++)
        for (int64_t dt = 0; dt < t; dt++) {
          const float* plane = x + (((b * C + c) * T + d * t + dt) * H) * W;
          for (int64_t dy = 0; dy < p; dy++) {
            const float* src = plane + (h * p + dy) * W + w * p;
            for (int64_t dx = 0; dx < p; dx++) *o++ = src[dx];
          }
        }
    }
  });
}

}  // namespace vj::cpu
