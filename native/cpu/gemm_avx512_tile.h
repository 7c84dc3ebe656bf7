// What the AVX-512 GEMM kernels share (gemm_avx512.cc for fp32 operands, gemm_avx512bf16.cc for
// bf16 pairs): masks, the 16x16 transpose their packing runs on, and the register epilogue of a
// 14x32 tile (alpha, beta, bias, GELU). Internal linkage: each ISA file compiles its own copy.
#pragma once
#include <immintrin.h>

// GCC 12 flags the _mm512_undefined_ps() inside the shuffle intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "cpu/bf16_avx512.h"
#include "cpu/gemm_driver.h"
#include "cpu/gemm_gelu.h"

namespace vj::cpu {
// gelu.cc's AVX-512 GELU (gelu_avx512.cc): the rounded pre-activation's GELU is geluFwd's, bit
// for bit, as when gemm_narrowed ran it as a pass of its own.
namespace avx512 {
void gelu_fwd_range(const float* x, float* y, int64_t i0, int64_t i1);
}
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

// Rows [0, R) of a tile, accumulators c0 (columns 0-15) and c1 (16-31), through the epilogue into
// C, or into e.c16 rounded to bf16 (then C is not written: gemm_narrowed's scratch).
template <int R>
inline void store_tile(const __m512 (&c0)[R], const __m512 (&c1)[R], int nr, float* C, int64_t ldc, const Epi& e) {
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
      if (e.round_pre) v0 = round_bf16(v0), v1 = round_bf16(v1);
      if (e.pre16) {
        _mm256_mask_storeu_epi16(e.pre16 + r * ldc, m0, to_bf16x16(v0));
        _mm256_mask_storeu_epi16(e.pre16 + r * ldc + 16, m1, to_bf16x16(v1));
      }
      if (e.round_pre) {
        alignas(64) float t[32];
        _mm512_store_ps(t, v0);
        _mm512_store_ps(t + 16, v1);
        avx512::gelu_fwd_range(t, t, 0, 32);
        v0 = _mm512_load_ps(t);
        v1 = _mm512_load_ps(t + 16);
      } else {
        v0 = gelu16(v0);
        v1 = gelu16(v1);
      }
    }
    if (e.c16) {
      _mm256_mask_storeu_epi16(e.c16 + r * ldc, m0, to_bf16x16(v0));
      _mm256_mask_storeu_epi16(e.c16 + r * ldc + 16, m1, to_bf16x16(v1));
    } else {
      _mm512_mask_storeu_ps(cr, m0, v0);
      _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
  }
}

// One R x 32 tile: `steps` steps of the k loop, each multiplying A's broadcast word for every row
// into B's two vectors (KT::madd: an fp32 FMA over one k, or vdpbf16ps over a pair of k), then
// the epilogue. A and B advance MR and NR 32-bit words a step.
template <class KT, int R>
inline void run_tile(int nr, int64_t steps, const float* __restrict Ap, const float* __restrict Bp, float* C,
                     int64_t ldc, const Epi& e) {
  __m512 c0[R], c1[R];
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < steps; k++) {
    const __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const auto a = KT::broadcast(Ap + r);
      c0[r] = KT::madd(c0[r], a, b0);
      c1[r] = KT::madd(c1[r], a, b1);
    }
    Ap += KT::MR;
    Bp += KT::NR;
  }
  store_tile<R>(c0, c1, nr, C, ldc, e);
}

// run_tile for a runtime row count 1 <= rows <= R (the tail tiles of a block); kc values of k.
template <class KT, int R = KT::MR>
inline void tile_rows(int rows, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                      const Epi& e) {
  if constexpr (R > 1) {
    if (rows < R) return tile_rows<KT, R - 1>(rows, nr, kc, Ap, Bp, C, ldc, e);
  }
  run_tile<KT, R>(nr, (kc + KT::KSTEP - 1) / KT::KSTEP, Ap, Bp, C, ldc, e);
}

}  // namespace
}  // namespace vj::cpu
