// AVX-512 GEMM: 14x32 micro-kernel (28 zmm accumulators, A broadcast from memory), packing
// with 16x16 in-register transposes, fused alpha/beta/bias/GELU epilogue on the registers.
#include <immintrin.h>

// GCC 12 flags the _mm512_undefined_ps() inside the shuffle intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "cpu/gemm_driver.h"
#include "cpu/gemm_gelu.h"

namespace vj::cpu {
namespace {

typedef int32_t v16i __attribute__((vector_size(64)));

// rcp14 plus one Newton step (~2^-28): cheaper than vdivps in the epilogue.
struct Rcp16 {
  __m512 operator()(__m512 x) const {
    __m512 r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.f)));
  }
};
inline __m512 gelu16(__m512 v) { return gelu_vec<__m512, v16i>(v, Rcp16()); }

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

// r[i] <- column i of the 16x16 block r (rows r[0..15]).
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; g++) {
    __m512 *T = t + 4 * g, *U = u + 4 * g;
    U[0] = _mm512_shuffle_ps(T[0], T[2], 0x44);
    U[1] = _mm512_shuffle_ps(T[0], T[2], 0xEE);
    U[2] = _mm512_shuffle_ps(T[1], T[3], 0x44);
    U[3] = _mm512_shuffle_ps(T[1], T[3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), x1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    __m512 y0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD), y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(x0, x1, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(x0, x1, 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(y0, y1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(y0, y1, 0xDD);
  }
}

// rows x [k0, k0+kc) of a row-major matrix (element (i, k) at src[i*ld + k]) into dst[k*dstride + i],
// i < rows <= 16; writes exactly `rows` floats per k.
inline void pack_transpose(const float* src, int64_t ld, int rows, int64_t k0, int64_t kc, float* dst, int dstride) {
  __mmask16 rm = tail_mask(rows);
  for (int64_t kk = 0; kk < kc; kk += 16) {
    int64_t cnt = kc - kk < 16 ? kc - kk : 16;
    __mmask16 km = tail_mask(cnt);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(km, src + i * ld + k0 + kk) : _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < cnt; i++) _mm512_mask_storeu_ps(dst + (kk + i) * dstride, rm, r[i]);
  }
}

struct K512 {
  static constexpr int MR = 14, NR = 32, KC = 384, MC = 14 * 24;

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

  template <int R>
  static void tile_r(int nr, int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C,
                     int64_t ldc, const Epi& e) {
    __m512 c0[R], c1[R];
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
      __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);
#pragma GCC unroll 14
      for (int r = 0; r < R; r++) {
        __m512 a = _mm512_set1_ps(Ap[r]);
        c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
        c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
      }
      Ap += MR;
      Bp += NR;
    }
    __mmask16 m0 = tail_mask(nr), m1 = tail_mask(nr > 16 ? nr - 16 : 0);
    const __m512 alpha = _mm512_set1_ps(e.alpha), beta = _mm512_set1_ps(e.beta);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (e.bias) bias0 = _mm512_maskz_loadu_ps(m0, e.bias), bias1 = _mm512_maskz_loadu_ps(m1, e.bias + 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      float* cr = C + r * ldc;
      __m512 v0 = _mm512_mul_ps(c0[r], alpha), v1 = _mm512_mul_ps(c1[r], alpha);
      if (e.beta != 0.f) {
        v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, cr), v0);
        v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, cr + 16), v1);
      }
      v0 = _mm512_add_ps(v0, bias0);
      v1 = _mm512_add_ps(v1, bias1);
      if (e.gelu) {
        if (e.pre) {
          _mm512_mask_storeu_ps(e.pre + r * ldc, m0, v0);
          _mm512_mask_storeu_ps(e.pre + r * ldc + 16, m1, v1);
        }
        v0 = gelu16(v0);
        v1 = gelu16(v1);
      }
      _mm512_mask_storeu_ps(cr, m0, v0);
      _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
  }

  static void tile(int R, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                   const Epi& e) {
    switch (R) {
      case 14: return tile_r<14>(nr, kc, Ap, Bp, C, ldc, e);
      case 13: return tile_r<13>(nr, kc, Ap, Bp, C, ldc, e);
      case 12: return tile_r<12>(nr, kc, Ap, Bp, C, ldc, e);
      case 11: return tile_r<11>(nr, kc, Ap, Bp, C, ldc, e);
      case 10: return tile_r<10>(nr, kc, Ap, Bp, C, ldc, e);
      case 9: return tile_r<9>(nr, kc, Ap, Bp, C, ldc, e);
      case 8: return tile_r<8>(nr, kc, Ap, Bp, C, ldc, e);
      case 7: return tile_r<7>(nr, kc, Ap, Bp, C, ldc, e);
      case 6: return tile_r<6>(nr, kc, Ap, Bp, C, ldc, e);
      case 5: return tile_r<5>(nr, kc, Ap, Bp, C, ldc, e);
      case 4: return tile_r<4>(nr, kc, Ap, Bp, C, ldc, e);
      case 3: return tile_r<3>(nr, kc, Ap, Bp, C, ldc, e);
      case 2: return tile_r<2>(nr, kc, Ap, Bp, C, ldc, e);
      default: return tile_r<1>(nr, kc, Ap, Bp, C, ldc, e);
    }
  }
};

}  // namespace

void gemm_avx512(const GemmArgs& g) { Driver<K512>::run(g); }

}  // namespace vj::cpu
