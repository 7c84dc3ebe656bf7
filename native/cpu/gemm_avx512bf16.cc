// bf16 GEMM on AVX512-BF16 (Cooper Lake, Sapphire Rapids, Zen 4 and later): the 14x32 tile of
// gemm_avx512.cc with vdpbf16ps, which multiplies pairs of bf16 values exactly and adds both
// products into fp32 accumulators: twice the flops of an fp32 FMA per instruction, from operands
// half the size. Panels hold k in pairs (one 32-bit word per row or column: k in the low half,
// k+1 in the high), a trailing odd k paired with zero.
//
// Against the fp32 kernel fed the widened values (gemm_bf16.cc, the other CPUs' path) only the
// rounding differs: the instruction adds a pair's products in its own order and treats bf16
// subnormal inputs as zero (its DAZ), so results agree to fp32 accumulation error, not bit for bit.
#include "cpu/gemm_avx512_tile.h"

namespace vj::cpu {
namespace {

inline __mmask32 mask32(int64_t n) { return n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1); }

// Word i of lo / hi interleaves element i / 16 + i of a and b: (a[i], b[i]) pairs, a in the low half.
inline void interleave(__m512i a, __m512i b, __m512i* lo, __m512i* hi) {
  alignas(64) static const uint16_t ilo[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                               8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  alignas(64) static const uint16_t ihi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                               24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
  *lo = _mm512_permutex2var_epi16(a, _mm512_load_si512(ilo), b);
  *hi = _mm512_permutex2var_epi16(a, _mm512_load_si512(ihi), b);
}

// Rows of a matrix contiguous in k (row i at src + i * ld, kc values from k0) into pair words
// dst[p * dstride + i], i < rows <= 16: a 16x16 transpose of 32-bit words.
void pack_pairs_transposed(const uint16_t* src, int64_t ld, int rows, int64_t k0, int64_t kc, uint32_t* dst,
                           int dstride) {
  __mmask16 rm = tail_mask(rows);
  for (int64_t kk = 0; kk < kc; kk += 32) {
    int64_t ne = kc - kk < 32 ? kc - kk : 32;  // values of this chunk; the words past them load as zero
    __mmask32 em = mask32(ne);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
      r[i] = i < rows ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(em, src + i * ld + k0 + kk)) : _mm512_setzero_ps();
    transpose16(r);
    int words = (int)((ne + 1) / 2);
    for (int i = 0; i < words; i++) _mm512_mask_storeu_ps((float*)(dst + (kk / 2 + i) * dstride), rm, r[i]);
  }
}

// Rows 2p and 2p + 1 of a matrix contiguous along the tile's other axis (n values from src,
// row stride ld) into the pair words dst[p * dstride + j]: with dstride 32 (a B panel) all 32
// words, zero past n; otherwise (an A panel, n <= 16) the first n.
void pack_pairs_interleaved(const uint16_t* src, int64_t ld, int64_t n, int64_t kc, uint32_t* dst, int dstride) {
  __mmask32 nm = mask32(n);
  __mmask16 m = tail_mask(n);
  for (int64_t k = 0; k < kc; k += 2) {
    __m512i a = _mm512_maskz_loadu_epi16(nm, src + k * ld);
    __m512i b = k + 1 < kc ? _mm512_maskz_loadu_epi16(nm, src + (k + 1) * ld) : _mm512_setzero_si512();
    __m512i lo, hi;
    interleave(a, b, &lo, &hi);
    uint32_t* d = dst + (k / 2) * dstride;
    if (dstride == 32) {
      _mm512_storeu_si512(d, lo);
      _mm512_storeu_si512(d + 16, hi);
    } else {
      _mm512_mask_storeu_epi32(d, m, lo);
    }
  }
}

struct K512Bf16 {
  // KC counts bf16 values. 1536 (a 96 KB B panel) measured best on the Zen 5 here: 768 and 2048
  // lost 2-8 % at K >= 1024 (node dist/bench/gemm.js).
  static constexpr int MR = 14, NR = 32, KC = 1536, MC = 14 * 24, KSTEP = 2;
  using In = uint16_t;

  static void pack_a(bool ta, const uint16_t* A, int64_t lda, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t i = 0; i < mc; i += MR) {
      int R = (int)(mc - i < MR ? mc - i : MR);
      uint32_t* d = (uint32_t*)(dst + i * kc);
      if (ta) pack_pairs_interleaved(A + k0 * lda + m0 + i, lda, R, kc, d, MR);
      else pack_pairs_transposed(A + (m0 + i) * lda, lda, R, k0, kc, d, MR);
    }
  }

  static void pack_b(bool tb, const uint16_t* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t nr,
                     float* dst) {
    uint32_t* d = (uint32_t*)dst;
    if (!tb) return pack_pairs_interleaved(B + k0 * ldb + n0, ldb, nr, kc, d, NR);  // padding columns load as zero
    // B stored N x K: columns of op(B) are rows of B. Padding columns are zeroed.
    const int64_t pairs = (kc + 1) / 2;
    for (int h = 0; h < 2; h++) {
      int rows = (int)(nr - 16 * h);
      rows = rows < 0 ? 0 : rows > 16 ? 16 : rows;
      if (rows) pack_pairs_transposed(B + (n0 + 16 * h) * ldb, ldb, rows, k0, kc, d + 16 * h, NR);
      if (rows < 16) {
        __mmask16 z = (__mmask16)~tail_mask(rows);
        for (int64_t p = 0; p < pairs; p++) _mm512_mask_storeu_epi32(d + p * NR + 16 * h, z, _mm512_setzero_si512());
      }
    }
  }

  // a: one row's pair of A; b: 16 columns' pairs of B
  static __m512bh broadcast(const float* a) { return (__m512bh)_mm512_set1_epi32(*(const int32_t*)a); }
  static __m512 madd(__m512 c, __m512bh a, __m512 b) { return _mm512_dpbf16_ps(c, a, (__m512bh)_mm512_castps_si512(b)); }

  static void tile(int R, int nr, int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc,
                   const Epi& e) {
    tile_rows<K512Bf16>(R, nr, kc, Ap, Bp, C, ldc, e);
  }
};

}  // namespace

void gemm_avx512bf16(const GemmBf16Args& g, const Narrow* nw) { Driver<K512Bf16>::run(g, nw); }

}  // namespace vj::cpu
