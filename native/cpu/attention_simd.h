// Vector traits for the attention kernels: one struct per instruction set with the same
// static interface, so attention_impl.h is written once. Only the struct whose ISA the
// including file is compiled for is defined. No STL: see attention_kernels.h.
#pragma once
#include <cstdint>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vj::cpu::attn {
// Internal linkage: each ISA file gets its own copy, so the linker can never pick a copy
// compiled with wider instructions for a narrower path.
namespace {

// Portable: GCC/Clang vector extensions (SSE2 on baseline x86-64, NEON on ARM).
struct VecPortable {
  typedef float R __attribute__((vector_size(16)));
  static constexpr int L = 4, RM = 4, WM = 2;  // lanes; register tile rows x vectors
  static inline R zero() { return R{0.f, 0.f, 0.f, 0.f}; }
  static inline R set1(float x) { return R{x, x, x, x}; }
  static inline R load(const float* p) {
    R v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
  }
  static inline void store(float* p, R v) { __builtin_memcpy(p, &v, sizeof(v)); }
  static inline R load_n(const float* p, int n) {
    R v = zero();
    for (int i = 0; i < n; i++) v[i] = p[i];
    return v;
  }
  static inline void store_n(float* p, R v, int n) {
    for (int i = 0; i < n; i++) p[i] = v[i];
  }
  static inline R fma(R a, R b, R c) { return a * b + c; }
  static inline R add(R a, R b) { return a + b; }
  static inline R sub(R a, R b) { return a - b; }
  static inline R mul(R a, R b) { return a * b; }
  static inline R max(R a, R b) { return a > b ? a : b; }
  static inline float hsum(R v) { return (v[0] + v[1]) + (v[2] + v[3]); }
  static inline float hmax(R v) {
    float a = v[0] > v[1] ? v[0] : v[1], b = v[2] > v[3] ? v[2] : v[3];
    return a > b ? a : b;
  }
  static inline R exp2(R x) {
    return R{__builtin_exp2f(x[0]), __builtin_exp2f(x[1]), __builtin_exp2f(x[2]), __builtin_exp2f(x[3])};
  }
  // d[c*ds + j] = s[j*ss + c] for an L x L block.
  static inline void transpose(const float* s, int64_t ss, float* d, int64_t ds) {
    for (int j = 0; j < L; j++)
      for (int c = 0; c < L; c++) d[c * ds + j] = s[j * ss + c];
  }
};

// 2^f on [-0.5, 0.5]: Taylor series of degree 7, relative error < 1e-8 before rounding.
#define VJ_EXP2_POLY(V, f)                                   \
  V::fma(V::fma(V::fma(V::fma(V::fma(V::fma(V::fma(           \
      V::set1(1.5252733804059840e-05f), f,                   \
      V::set1(1.5403530393381609e-04f)), f,                   \
      V::set1(1.3333558146428443e-03f)), f,                   \
      V::set1(9.6181291076284772e-03f)), f,                   \
      V::set1(5.5504108664821580e-02f)), f,                   \
      V::set1(2.4022650695910071e-01f)), f,                   \
      V::set1(6.9314718055994531e-01f)), f, V::set1(1.f))

#if defined(__AVX2__) && defined(__FMA__)
struct VecAvx2 {
  using R = __m256;
  static constexpr int L = 8, RM = 6, WM = 2;
  static inline R zero() { return _mm256_setzero_ps(); }
  static inline R set1(float x) { return _mm256_set1_ps(x); }
  static inline R load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static inline __m256i mask(int n) {
    static const int32_t tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i*)(tbl + 8 - n));
  }
  static inline R load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static inline void store_n(float* p, R v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static inline R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static inline R add(R a, R b) { return _mm256_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static inline R max(R a, R b) { return _mm256_max_ps(a, b); }
  static inline float hsum(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline float hmax(R v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Cody-Waite split x = n + f, polynomial for 2^f, exponent bits for 2^n. Below -126 the
  // result is 0 (softmax weights that small do not matter, and -inf must give exactly 0).
  static inline R exp2(R x) {
    R under = _mm256_cmp_ps(x, _mm256_set1_ps(-126.f), _CMP_LT_OQ);
    R xc = _mm256_min_ps(_mm256_set1_ps(127.f), _mm256_max_ps(_mm256_set1_ps(-126.f), x));
    R n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R f = _mm256_sub_ps(xc, n);
    R p = VJ_EXP2_POLY(VecAvx2, f);
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
  }
  // d[c*ds + j] = s[j*ss + c] for an 8 x 8 block.
  static inline void transpose(const float* s, int64_t ss, float* d, int64_t ds) {
    R r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = load(s + i * ss);
    for (int i = 0; i < 4; i++) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
      r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
      store(d + k * ds, _mm256_permute2f128_ps(r[k], r[4 + k], 0x20));
      store(d + (4 + k) * ds, _mm256_permute2f128_ps(r[k], r[4 + k], 0x31));
    }
  }
};
#endif

#if defined(__AVX512F__)
struct VecAvx512 {
  using R = __m512;
  static constexpr int L = 16, RM = 6, WM = 4;
  static inline R zero() { return _mm512_setzero_ps(); }
  static inline R set1(float x) { return _mm512_set1_ps(x); }
  static inline R load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static inline R load_n(const float* p, int n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p); }
  static inline void store_n(float* p, R v, int n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), v); }
  static inline R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static inline R add(R a, R b) { return _mm512_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static inline R max(R a, R b) { return _mm512_max_ps(a, b); }
  static inline float hsum(R v) { return _mm512_reduce_add_ps(v); }
  static inline float hmax(R v) { return _mm512_reduce_max_ps(v); }
  // Cody-Waite split x = n + f, polynomial for 2^f, vscalefps for 2^n. Below -126 the result is
  // 0, as in the AVX2 path (no denormal softmax weights; -inf gives exactly 0); NaN propagates
  // as the second operand of max and min and passes the not-less-than mask.
  static inline R exp2(R x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.f), _CMP_NLT_UQ);
    R xc = _mm512_min_ps(_mm512_set1_ps(128.f), _mm512_max_ps(_mm512_set1_ps(-127.f), x));
    R n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R f = _mm512_sub_ps(xc, n);
    R p = VJ_EXP2_POLY(VecAvx512, f);
    return _mm512_maskz_scalef_ps(keep, p, n);
  }
  // d[c*ds + j] = s[j*ss + c] for a 16 x 16 block: 4x4 transposes inside 128-bit lanes, then
  // the lanes are regrouped.
  static inline void transpose(const float* s, int64_t ss, float* d, int64_t ds) {
    R r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = load(s + i * ss);
    for (int i = 0; i < 8; i++) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
      r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    // r[4i+k], 128-bit lane q: rows 4i..4i+3 of column 4q+k
    for (int k = 0; k < 4; k++) {
      R a = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88), b = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);
      R c = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88), e = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
      store(d + k * ds, _mm512_shuffle_f32x4(a, c, 0x88));
      store(d + (8 + k) * ds, _mm512_shuffle_f32x4(a, c, 0xDD));
      store(d + (4 + k) * ds, _mm512_shuffle_f32x4(b, e, 0x88));
      store(d + (12 + k) * ds, _mm512_shuffle_f32x4(b, e, 0xDD));
    }
  }
};
#endif

}  // namespace
}  // namespace vj::cpu::attn
