// LayerNorm row kernels, AVX2 + FMA (built with -mavx2 -mfma; picked at run time by layernorm.cc).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace vj::cpu::avx2 {
namespace {

struct V {
  using reg = __m256;
  using mask = __m256i;
  static constexpr int64_t W = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float f) { return _mm256_set1_ps(f); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static mask tail_mask(int rem) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static reg load_tail(const float* p, mask m) { return _mm256_maskload_ps(p, m); }
  static void store_tail(float* p, mask m, reg v) { _mm256_maskstore_ps(p, m, v); }
  static reg and_tail(reg v, mask m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
  static float sum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

#include "layernorm_rows.inc"
}  // namespace vj::cpu::avx2
