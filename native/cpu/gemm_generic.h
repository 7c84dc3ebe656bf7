// A micro-kernel written with GCC vector extensions (MR rows x NV vectors of W floats), for the
// ISAs without a hand-written one: AVX2 (8-wide, 6x16) and the portable path (4-wide: SSE2 on
// x86-64, NEON on ARM). Packing is scalar; the epilogue runs on vectors with a scalar-gathered tail.
#pragma once
#include <cstdint>

#include "cpu/gemm_driver.h"
#include "cpu/gemm_gelu.h"

namespace vj::cpu {
namespace {

template <class V, class VI, int MR_, int NV, int KC_, int MC_>
struct KGeneric {
  static constexpr int W = (int)(sizeof(V) / sizeof(float));
  static constexpr int MR = MR_, NR = NV * W, KC = KC_, MC = MC_, KSTEP = 1;
  using In = float;

  static void pack_a(bool ta, const float* A, int64_t lda, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t i = 0; i < mc; i += MR) {
      int R = (int)(mc - i < MR ? mc - i : MR);
      float* d = dst + i * kc;
      if (ta) {
        const float* s = A + k0 * lda + m0 + i;
        for (int64_t k = 0; k < kc; k++)
          for (int r = 0; r < R; r++) d[k * MR + r] = s[k * lda + r];
      } else {
        for (int r = 0; r < R; r++) {
          const float* s = A + (m0 + i + r) * lda + k0;
          for (int64_t k = 0; k < kc; k++) d[k * MR + r] = s[k];
        }
      }
    }
  }

  static void pack_b(bool tb, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t nr,
                     float* dst) {
    for (int64_t k = 0; k < kc; k++) {
      float* d = dst + k * NR;
      if (!tb) {
        const float* s = B + (k0 + k) * ldb + n0;
        for (int n = 0; n < nr; n++) d[n] = s[n];
      } else {
        const float* s = B + n0 * ldb + k0 + k;
        for (int n = 0; n < nr; n++) d[n] = s[n * ldb];
      }
      for (int n = (int)nr; n < NR; n++) d[n] = 0.f;
    }
  }

  // x - 0 folds away (x + 0 would not: -0 + 0 is +0), leaving a plain broadcast.
  static inline V splat(float x) { return x - V{}; }
  static inline V load(const float* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  }
  static inline void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }

  // One row of the epilogue: acc (NR floats) -> c[0, nr).
  static void epi_row(const float* acc, float* c, float* pre, const float* bias, int nr, const Epi& e) {
    for (int n = 0; n < nr; n += W) {
      int cnt = nr - n < W ? nr - n : W;
      V v = load(acc + n) * e.alpha, cv = V{}, bv = V{};
      if (cnt == W) {
        if (e.beta != 0.f) cv = load(c + n);
        if (bias) bv = load(bias + n);
      } else {
        for (int i = 0; i < cnt; i++) {
          if (e.beta != 0.f) cv[i] = c[n + i];
          if (bias) bv[i] = bias[n + i];
        }
      }
      if (e.beta != 0.f) v = v + e.beta * cv;
      v = v + bv;
      if (e.gelu) {
        if (pre) {
          if (cnt == W) store(pre + n, v);
          else
            for (int i = 0; i < cnt; i++) pre[n + i] = v[i];
        }
        v = gelu_vec<V, VI>(v);
      }
      if (cnt == W) store(c + n, v);
      else
        for (int i = 0; i < cnt; i++) c[n + i] = v[i];
    }
  }

  template <int R>
  static void tile_r(int nr, int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C,
                     int64_t ldc, const Epi& e) {
    V acc[R][NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) acc[r][j] = V{};
    for (int64_t k = 0; k < kc; k++) {
      V b[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) b[j] = load(Bp + j * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        V a = splat(Ap[r]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) acc[r][j] += a * b[j];
      }
      Ap += MR;
      Bp += NR;
    }
    alignas(64) float tmp[NR];
    for (int r = 0; r < R; r++) {
      for (int j = 0; j < NV; j++) store(tmp + j * W, acc[r][j]);
      epi_row(tmp, C + r * ldc, e.pre ? e.pre + r * ldc : nullptr, e.bias, nr, e);
    }
  }

  template <int R>
  static void dispatch(int Rn, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                       const Epi& e) {
    if constexpr (R >= 1) {
      if (Rn == R) return tile_r<R>(nr, kc, Ap, Bp, C, ldc, e);
      return dispatch<R - 1>(Rn, nr, kc, Ap, Bp, C, ldc, e);
    }
  }

  static void tile(int R, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                   const Epi& e) {
    dispatch<MR>(R, nr, kc, Ap, Bp, C, ldc, e);
  }
};

}  // namespace
}  // namespace vj::cpu
