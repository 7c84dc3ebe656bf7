// AVX-512 GEMM: 14x32 micro-kernel (28 zmm accumulators, A broadcast from memory), packing
// with 16x16 in-register transposes, fused alpha/beta/bias/GELU epilogue on the registers.
#include "cpu/gemm_avx512_tile.h"

namespace vj::cpu {
namespace {

struct K512 {
  static constexpr int MR = 14, NR = 32, KC = 384, MC = 14 * 24, KSTEP = 1;
  using In = float;

  static void pack_a(bool ta, const float* A, int64_t lda, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t i = 0; i < mc; i += MR) {
      int R = (int)(mc - i < MR ? mc - i : MR);
      float* d = dst + i * kc;
      if (ta) {
        __mmask16 m = tail_mask(R);
        const float* s = A + k0 * lda + m0 + i;
        for (int64_t k = 0; k < kc; k++) _mm512_mask_storeu_ps(d + k * MR, m, _mm512_maskz_loadu_ps(m, s + k * lda));
      } else {
        pack_transpose(A + (m0 + i) * lda, lda, R, k0, kc, d, MR);
      }
    }
  }

  static void pack_b(bool tb, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t nr,
                     float* dst) {
    if (!tb) {
      __mmask16 m0 = tail_mask(nr), m1 = tail_mask(nr > 16 ? nr - 16 : 0);
      const float* s = B + k0 * ldb + n0;
      for (int64_t k = 0; k < kc; k++) {
        _mm512_store_ps(dst + k * 32, _mm512_maskz_loadu_ps(m0, s + k * ldb));
        _mm512_store_ps(dst + k * 32 + 16, _mm512_maskz_loadu_ps(m1, s + k * ldb + 16));
      }
    } else {
      // B stored N x K: 16 columns of op(B) are 16 rows of B. Padding columns are zeroed.
      for (int h = 0; h < 2; h++) {
        int rows = (int)(nr - 16 * h);
        rows = rows < 0 ? 0 : rows > 16 ? 16 : rows;
        if (rows == 0) {
          for (int64_t k = 0; k < kc; k++) _mm512_store_ps(dst + k * 32 + 16 * h, _mm512_setzero_ps());
          continue;
        }
        pack_transpose(B + (n0 + 16 * h) * ldb, ldb, rows, k0, kc, dst + 16 * h, 32);
        if (rows < 16) {
          __mmask16 z = (__mmask16)~tail_mask(rows);
          for (int64_t k = 0; k < kc; k++) _mm512_mask_storeu_ps(dst + k * 32 + 16 * h, z, _mm512_setzero_ps());
        }
      }
    }
  }

  static __m512 broadcast(const float* a) { return _mm512_set1_ps(*a); }
  static __m512 madd(__m512 c, __m512 a, __m512 b) { return _mm512_fmadd_ps(a, b, c); }

  static void tile(int R, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                   const Epi& e) {
    tile_rows<K512>(R, nr, kc, Ap, Bp, C, ldc, e);
  }
};

}  // namespace

void gemm_avx512(const GemmArgs& g, const Narrow* nw) { Driver<K512>::run(g, nw); }

}  // namespace vj::cpu
