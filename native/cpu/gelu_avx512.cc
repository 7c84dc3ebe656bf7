// Exact (erf) GELU forward / backward, AVX-512 (picked at run time by gelu.cc).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _undefined_ operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

namespace vj::cpu::avx512 {
namespace {

struct V {
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int64_t W = 16;
  static reg set1(float f) { return _mm512_set1_ps(f); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static mask tail_mask(int rem) { return (mask)((1u << rem) - 1u); }
  static reg load_tail(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_tail(float* p, mask m, reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg round(reg a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static reg scale2(reg p, reg n) { return _mm512_scalef_ps(p, n); }
  static reg abs(reg a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff))); }
  static reg sign(reg a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u))); }
  static reg or_(reg a, reg b) { return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b))); }
  // t > thr ? b : a (false for NaN)
  static reg select_gt(reg t, reg thr, reg a, reg b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, thr, _CMP_GT_OQ), a, b); }
};

#include "gelu_rows.inc"
}  // namespace vj::cpu::avx512
