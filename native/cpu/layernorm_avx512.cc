// LayerNorm row kernels, AVX-512 (built with -mavx512f...; picked at run time by layernorm.cc).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _undefined_ operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace vj::cpu::avx512 {
namespace {

struct V {
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int64_t W = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float f) { return _mm512_set1_ps(f); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static mask tail_mask(int rem) { return (mask)((1u << rem) - 1u); }
  static reg load_tail(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_tail(float* p, mask m, reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static reg and_tail(reg v, mask m) { return _mm512_maskz_mov_ps(m, v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b
  static float sum(reg v) {
    __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

#include "layernorm_rows.inc"
}  // namespace vj::cpu::avx512
