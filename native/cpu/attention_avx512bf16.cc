// Attention forward straight from bf16 q, k, v on AVX512-BF16, for mixed precision's inference
// passes (vjepa-embed --dtype bfloat16, the probe's frozen encoder): the two products on
// vdpbf16ps, as the CUDA tensor-core kernels run them. Scores S = Q Kᵀ sum exact bf16 products in
// fp32; the online softmax is attention_impl.h's (fp32, base 2); P is rounded to bf16 as it enters
// O = P V (the CUDA path rounds it too), O accumulates in fp32 and is rounded once into the bf16
// output. Without it the bindings widened the whole qkv to fp32 first and ran the fp32 kernels.
//
// K is packed per (batch, head) as pair words [hd/2][keys] (the scores' B operand, keys along
// the lanes), V as [keys/2][hd] words (pairs of keys, O's B operand); Q rows are read in place,
// a word per pair of head dims, and P's rows are rounded into words of key pairs. Backward keeps
// the fp32 kernels (autograd widens: attention_reads_bf16 answers for the forward only).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "cpu/attention_impl.h"
#include "cpu/bf16_avx512.h"

namespace vj::cpu {
namespace attn {
namespace {

constexpr int64_t kQB = 64;   // query rows per work item's block
constexpr int64_t kKB = 256;  // keys per online-softmax step (a multiple of 32: whole key pairs)
constexpr int kMaxW = 8;      // head_dim up to 128 (8 vectors of 16)

struct Fwd16 {
  const AttnArgs* a;
  int64_t hd, hp, hdp, W, Nkp, BH, nqb;
  int64_t bh0, gbh, nitems;  // the group of (batch, head) pairs whose K/V are packed
  float c;                   // scale * log2 e
  uint32_t *kt, *vp;         // [gbh][hp][Nkp], [gbh][Nkp / 2][hdp]
  int64_t next;
};

inline uint32_t word(const uint16_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 16); }

void pack16(void* ctx, int, int) {
  Fwd16& f = *(Fwd16*)ctx;
  const AttnArgs& a = *f.a;
  for (int64_t g; (g = take(&f.next)) < f.gbh;) {
    const int64_t bh = f.bh0 + g, b = bh / a.H, h = bh % a.H;
    uint32_t* kt = f.kt + g * f.hp * f.Nkp;
    uint32_t* vp = f.vp + g * (f.Nkp / 2) * f.hdp;
    for (int64_t j = 0; j < f.Nkp; j++) {
      const uint16_t* k = a.k16 + (b * a.Nk + j) * a.k_rs + h * f.hd;
      for (int64_t p = 0; p < f.hp; p++) kt[p * f.Nkp + j] = j < a.Nk ? word(k + 2 * p) : 0u;
    }
    for (int64_t jp = 0; jp < f.Nkp / 2; jp++) {
      const int64_t j = 2 * jp;
      const uint16_t* v0 = a.v16 + (b * a.Nk + j) * a.v_rs + h * f.hd;
      const uint16_t* v1 = v0 + a.v_rs;
      uint32_t* d = vp + jp * f.hdp;
      for (int64_t c = 0; c < f.hdp; c++) {
        const uint32_t lo = j < a.Nk && c < f.hd ? v0[c] : 0u, hi = j + 1 < a.Nk && c < f.hd ? v1[c] : 0u;
        d[c] = lo | (hi << 16);
      }
    }
  }
}

inline __m512bh bh(__m512i x) { return (__m512bh)x; }

// S[R x 32] = Q rows (words at q, row stride qs words) x kt columns [j, j + 32), over hp pairs.
template <int R>
void scores(int64_t hp, const int32_t* q, int64_t qs, const uint32_t* kt, int64_t Nkp, float* S, int64_t ldS) {
  __m512 c0[R], c1[R];
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < hp; p++) {
    const __m512i b0 = _mm512_loadu_si512(kt + p * Nkp), b1 = _mm512_loadu_si512(kt + p * Nkp + 16);
    for (int r = 0; r < R; r++) {
      const __m512bh w = bh(_mm512_set1_epi32(q[r * qs + p]));
      c0[r] = _mm512_dpbf16_ps(c0[r], w, bh(b0));
      c1[r] = _mm512_dpbf16_ps(c1[r], w, bh(b1));
    }
  }
  for (int r = 0; r < R; r++) {
    _mm512_storeu_ps(S + r * ldS, c0[r]);
    _mm512_storeu_ps(S + r * ldS + 16, c1[r]);
  }
}

template <int R = 14>
void scores_rows(int rows, int64_t hp, const int32_t* q, int64_t qs, const uint32_t* kt, int64_t Nkp, float* S,
                 int64_t ldS) {
  if constexpr (R > 1) {
    if (rows < R) return scores_rows<R - 1>(rows, hp, q, qs, kt, Nkp, S, ldS);
  }
  scores<R>(hp, q, qs, kt, Nkp, S, ldS);
}

// O[R x 16W] = alpha[r] * O (first: 0) + P rows (words at p, row stride ps) x vp, over pairs key pairs.
template <int W, int R>
void accumulate(int64_t pairs, const int32_t* p, int64_t ps, const uint32_t* vp, int64_t hdp, float* O, int64_t ldO,
                const float* alpha, bool first) {
  __m512 acc[R][W];
  for (int r = 0; r < R; r++)
    for (int w = 0; w < W; w++)
      acc[r][w] = first ? _mm512_setzero_ps() : _mm512_mul_ps(_mm512_set1_ps(alpha[r]), _mm512_loadu_ps(O + r * ldO + 16 * w));
  for (int64_t k = 0; k < pairs; k++) {
    __m512i b[W];
    for (int w = 0; w < W; w++) b[w] = _mm512_loadu_si512(vp + k * hdp + 16 * w);
    for (int r = 0; r < R; r++) {
      const __m512bh x = bh(_mm512_set1_epi32(p[r * ps + k]));
      for (int w = 0; w < W; w++) acc[r][w] = _mm512_dpbf16_ps(acc[r][w], x, bh(b[w]));
    }
  }
  for (int r = 0; r < R; r++)
    for (int w = 0; w < W; w++) _mm512_storeu_ps(O + r * ldO + 16 * w, acc[r][w]);
}

// Rows per tile: R x W accumulators, W vectors of V and one broadcast within 32 registers.
template <int W>
constexpr int kRows = (31 - W) / W > 14 ? 14 : (31 - W) / W;

template <int W, int R = kRows<W>>
void accumulate_rows(int rows, int64_t pairs, const int32_t* p, int64_t ps, const uint32_t* vp, int64_t hdp, float* O,
                     int64_t ldO, const float* alpha, bool first) {
  if constexpr (R > 1) {
    if (rows < R) return accumulate_rows<W, R - 1>(rows, pairs, p, ps, vp, hdp, O, ldO, alpha, first);
  }
  accumulate<W, R>(pairs, p, ps, vp, hdp, O, ldO, alpha, first);
}

template <int W>
void accumulate_block(int64_t qb, int64_t pairs, const int32_t* p, int64_t ps, const uint32_t* vp, int64_t hdp,
                      float* O, const float* alpha, bool first) {
  for (int64_t i = 0; i < qb; i += kRows<W>) {
    const int rows = (int)imin(kRows<W>, qb - i);
    accumulate_rows<W>(rows, pairs, p + i * ps, ps, vp, hdp, O + i * hdp, hdp, alpha + i, first);
  }
}

void accumulate_any(int64_t W, int64_t qb, int64_t pairs, const int32_t* p, int64_t ps, const uint32_t* vp,
                    int64_t hdp, float* O, const float* alpha, bool first) {
  switch (W) {
    case 1: return accumulate_block<1>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 2: return accumulate_block<2>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 3: return accumulate_block<3>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 4: return accumulate_block<4>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 5: return accumulate_block<5>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 6: return accumulate_block<6>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    case 7: return accumulate_block<7>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
    default: return accumulate_block<8>(qb, pairs, p, ps, vp, hdp, O, alpha, first);
  }
}

void tile16(void* ctx, int, int) {
  Fwd16& f = *(Fwd16*)ctx;
  const AttnArgs& a = *f.a;
  const int64_t ldS = kKB, ldP = kKB / 2;
  float* S = scratch(0, kQB * ldS + kQB * ldP + kQB * f.hdp + 3 * kQB + 64);
  int32_t* P = (int32_t*)(S + kQB * ldS);
  float* O = (float*)(P + kQB * ldP);
  float* m = O + kQB * f.hdp;
  float* l = m + kQB;
  float* al = l + kQB;
  for (int64_t it; (it = take(&f.next)) < f.nitems;) {
    const int64_t qi = it % f.nqb, g = it / f.nqb, bh = f.bh0 + g, b = bh / a.H, h = bh % a.H;
    const int64_t q0 = a.Nq * qi / f.nqb, qb = a.Nq * (qi + 1) / f.nqb - q0;
    // the query rows' pair words, in place: row i at q + i * qs
    const int32_t* q = (const int32_t*)(a.q16 + (b * a.Nq + q0) * a.q_rs + h * f.hd);
    const int64_t qs = a.q_rs / 2;
    const uint32_t* kt = f.kt + g * f.hp * f.Nkp;
    const uint32_t* vp = f.vp + g * (f.Nkp / 2) * f.hdp;
    for (int64_t i = 0; i < qb; i++) m[i] = kNegInf, l[i] = 0.f;
    for (int64_t k0 = 0; k0 < a.Nk; k0 += kKB) {
      const int64_t kb = imin(kKB, a.Nk - k0), kbp = rup(kb, 32);
      for (int64_t i = 0; i < qb; i += 14)
        for (int64_t j = 0; j < kbp; j += 32)
          scores_rows((int)imin(14, qb - i), f.hp, q + i * qs, qs, kt + k0 + j, f.Nkp, S + i * kbp + j, kbp);
      softmax_rows<VecAvx512>(qb, kb, kbp, f.c, S, m, l, al);
      // P rounded to bf16, two keys a word
      for (int64_t i = 0; i < qb; i++)
        for (int64_t j = 0; j < kbp; j += 32) {
          const float* s = S + i * kbp + j;
          _mm512_storeu_si512(P + i * (kbp / 2) + j / 2, to_bf16x32(_mm512_loadu_ps(s), _mm512_loadu_ps(s + 16)));
        }
      accumulate_any(f.W, qb, kbp / 2, P, kbp / 2, vp + (k0 / 2) * f.hdp, f.hdp, O, al, k0 == 0);
    }
    for (int64_t i = 0; i < qb; i++) {
      const int64_t row = b * a.Nq + q0 + i;
      uint16_t* o = a.o16 + row * a.o_rs + h * f.hd;
      const __m512 inv = _mm512_set1_ps(1.f / l[i]);
      for (int64_t c = 0; c < f.hd; c += 16) {
        const int n = (int)imin(16, f.hd - c);
        const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(O + i * f.hdp + c), inv);
        _mm256_mask_storeu_epi16(o + c, (__mmask16)((1u << n) - 1u), to_bf16x16(v));
      }
      if (a.lse) a.lse[bh * a.Nq + q0 + i] = (m[i] + __builtin_log2f(l[i])) * kLn2;
    }
  }
}

}  // namespace
}  // namespace attn

bool attention_fwd_bf16_accepts(const AttnArgs& a) {
  // Q is read as 32-bit words in place: whole pairs, so an even stride and a 4-byte aligned start
  return a.q16 && a.k16 && a.v16 && a.o16 && !a.dout && a.hd % 2 == 0 && a.hd <= 16 * attn::kMaxW &&
         a.q_rs % 2 == 0 && (reinterpret_cast<uintptr_t>(a.q16) & 3) == 0;
}

void attention_fwd_avx512bf16(const AttnArgs& a) {
  using namespace attn;
  if (a.B <= 0 || a.H <= 0 || a.Nq <= 0 || a.Nk <= 0) return;
  Fwd16 f{};
  f.a = &a;
  f.hd = a.hd;
  f.hp = a.hd / 2;
  f.hdp = rup(a.hd, 16);
  f.W = f.hdp / 16;
  f.Nkp = rup(a.Nk, 32);
  f.BH = a.B * a.H;
  f.nqb = cdiv(a.Nq, kQB);
  f.c = a.scale * kLog2e;
  // packed K/V words of at most pack_budget() at once: (batch, head) pairs in groups
  const int64_t per_bh = f.hp * f.Nkp + (f.Nkp / 2) * f.hdp;
  const int64_t group = imax(1, imin(f.BH, pack_budget() / per_bh));
  uint32_t* sh = (uint32_t*)scratch(1, (size_t)(group * per_bh) + 64);
  f.kt = sh;
  f.vp = sh + group * f.hp * f.Nkp;
  for (f.bh0 = 0; f.bh0 < f.BH; f.bh0 += group) {
    f.gbh = imin(group, f.BH - f.bh0);
    f.nitems = f.gbh * f.nqb;
    f.next = 0;
    parallel(pack16, &f);
    f.next = 0;
    parallel(tile16, &f);
  }
}

}  // namespace vj::cpu
