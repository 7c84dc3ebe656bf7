// bf16 rounding on 16 fp32 lanes: cpu/bf16.h's to_bf16 (nearest even, NaN kept quiet, subnormals
// kept), vectorised. Unlike vcvtneps2bf16, which reads and writes subnormals as zero, it gives the
// bits every other CPU path (and the CUDA kernels) give. Include from AVX-512 files only.
#pragma once
#include <immintrin.h>

namespace vj::cpu {
namespace {

// The rounded value's bits in the high half of each 32-bit lane.
inline __m512i bf16_rounded(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_or_si512(u, _mm512_set1_epi32(0x400000)));
}
// 16 bf16 values.
inline __m256i to_bf16x16(__m512 v) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(bf16_rounded(v), 16)); }
// 32 bf16 values: lo's 16, then hi's (memory order).
inline __m512i to_bf16x32(__m512 lo, __m512 hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(to_bf16x16(lo)), to_bf16x16(hi), 1);
}
// The fp32 value of the rounded bf16.
inline __m512 round_bf16(__m512 v) {
  return _mm512_castsi512_ps(_mm512_and_si512(bf16_rounded(v), _mm512_set1_epi32((int)0xffff0000u)));
}

}  // namespace
}  // namespace vj::cpu
