// Exact (erf) GELU forward / backward, AVX2 + FMA (picked at run time by gelu.cc).
#include <immintrin.h>

#include <cstdint>

namespace vj::cpu::avx2 {
namespace {

struct V {
  using reg = __m256;
  using mask = __m256i;
  static constexpr int64_t W = 8;
  static reg set1(float f) { return _mm256_set1_ps(f); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static mask tail_mask(int rem) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static reg load_tail(const float* p, mask m) { return _mm256_maskload_ps(p, m); }
  static void store_tail(float* p, mask m, reg v) { _mm256_maskstore_ps(p, m, v); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg round(reg a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n for integral n in [-126, 127] (vexp clamps its argument so that holds)
  static reg scale2(reg p, reg n) {
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static reg abs(reg a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static reg sign(reg a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))); }
  static reg or_(reg a, reg b) { return _mm256_or_ps(a, b); }
  static reg select_gt(reg t, reg thr, reg a, reg b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(t, thr, _CMP_GT_OQ)); }
};

#include "gelu_rows.inc"
}  // namespace vj::cpu::avx2
