// Fused, tiled multi-head attention (FlashAttention-2 style) written once over a vector
// traits type V (attention_simd.h) and instantiated per instruction set by attention_*.cc.
//
// Layout: scores are computed with keys along the vector lanes. K (and V for dP) are packed
// transposed per key block ([hd][keys]), Q / dO / K / V are packed row-major with head_dim padded
// to a multiple of 16 (hdp) where they are the "B" operand of a product, so every product is a
// broadcast-A x vector-B register-tiled micro-kernel and any head_dim works (only the padding
// is wasted). Scores live in base-2 units (t = s * scale * log2 e) so the softmax uses exp2.
// Queries fewer than kRowPathMaxNq (the probe's pooler: one query, thousands of keys) take a
// row path that reads K and V in place instead of packing them.
// Work is split over (batch*head, query block, key chunk) items taken dynamically by the pool;
// key chunks (more than one only when there are too few other items) are merged with the
// log-sum-exp trick in the forward and summed (dq) in the backward, in a fixed order.
// Everything here has internal linkage: each ISA file gets its own copy.
#pragma once
#include <cstdint>

#include "backend.h"
#include "cpu/attention_kernels.h"
#include "cpu/attention_simd.h"

namespace vj::cpu::attn {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kNegInf = -__builtin_inff();
constexpr int64_t kPad = 16;            // column padding of packed operands (a multiple of every L)
constexpr int64_t kRowPathMaxNq = 4;    // below this many queries: row path (measured crossover)
constexpr int64_t kFwdQB = 64;          // forward query rows per block
constexpr int64_t kFwdKB = 512;         // forward keys per block (online softmax step)
constexpr int64_t kBwdQB = 64;          // backward query rows per block
constexpr int64_t kBwdKB = 256;         // backward keys per block
constexpr int64_t kMinChunk = 128;      // fewest keys per key chunk when splitting keys

inline int64_t rup(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline float fmaxf_(float a, float b) { return a > b ? a : b; }

enum Mode { kSet = 0, kAcc = 1, kRescale = 2 };

// C[R x W*L] = A B (kSet), += A B (kAcc), or = rs[m] * C + A B (kRescale), where
// A(m, k) = TA ? A[k*lda + m] : A[m*lda + k] and B is K rows of ldb floats.
template <class V, bool TA, int R, int W>
void micro(int64_t K, const float* __restrict A, int64_t lda, const float* __restrict B, int64_t ldb,
           float* __restrict C, int64_t ldc, int mode, const float* rs) {
  using T = typename V::R;
  constexpr int L = V::L;
  T acc[R][W];
  if (mode == kSet) {
#pragma GCC unroll 8
    for (int m = 0; m < R; m++)
#pragma GCC unroll 8
      for (int w = 0; w < W; w++) acc[m][w] = V::zero();
  } else if (mode == kAcc) {
#pragma GCC unroll 8
    for (int m = 0; m < R; m++)
#pragma GCC unroll 8
      for (int w = 0; w < W; w++) acc[m][w] = V::load(C + m * ldc + w * L);
  } else {
#pragma GCC unroll 8
    for (int m = 0; m < R; m++) {
      T s = V::set1(rs[m]);
#pragma GCC unroll 8
      for (int w = 0; w < W; w++) acc[m][w] = V::mul(V::load(C + m * ldc + w * L), s);
    }
  }
  for (int64_t k = 0; k < K; k++) {
    const float* b = B + k * ldb;
    T bv[W];
#pragma GCC unroll 8
    for (int w = 0; w < W; w++) bv[w] = V::load(b + w * L);
#pragma GCC unroll 8
    for (int m = 0; m < R; m++) {
      T av = V::set1(TA ? A[k * lda + m] : A[m * lda + k]);
#pragma GCC unroll 8
      for (int w = 0; w < W; w++) acc[m][w] = V::fma(av, bv[w], acc[m][w]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < R; m++)
#pragma GCC unroll 8
    for (int w = 0; w < W; w++) V::store(C + m * ldc + w * L, acc[m][w]);
}

template <class V, bool TA, int R>
inline void micro_w(int w, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                    int64_t ldc, int mode, const float* rs) {
  switch (w) {
    case 1: micro<V, TA, R, 1>(K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 2: if constexpr (V::WM >= 2) micro<V, TA, R, 2>(K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 3: if constexpr (V::WM >= 3) micro<V, TA, R, 3>(K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 4: if constexpr (V::WM >= 4) micro<V, TA, R, 4>(K, A, lda, B, ldb, C, ldc, mode, rs); break;
  }
}

template <class V, bool TA>
inline void micro_rw(int r, int w, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                     int64_t ldc, int mode, const float* rs) {
  switch (r) {
    case 1: micro_w<V, TA, 1>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 2: micro_w<V, TA, 2>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 3: micro_w<V, TA, 3>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 4: micro_w<V, TA, 4>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 5: if constexpr (V::RM >= 5) micro_w<V, TA, 5>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
    case 6: if constexpr (V::RM >= 6) micro_w<V, TA, 6>(w, K, A, lda, B, ldb, C, ldc, mode, rs); break;
  }
}

// C[M x N] (op)= A(M x K) B(K x N); N a multiple of V::L. Tiles are balanced so that no
// thin remainder tile (few independent accumulators) is left.
template <class V, bool TA>
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
          int64_t ldc, int mode, const float* rs = nullptr) {
  if (M <= 0 || N <= 0) return;
  const int64_t nv = N / V::L, nt = cdiv(nv, V::WM), mt = cdiv(M, V::RM);
  int64_t v0 = 0;
  for (int64_t t = 0; t < nt; t++) {
    int64_t v1 = nv * (t + 1) / nt;
    int64_t m0 = 0;
    for (int64_t s = 0; s < mt; s++) {
      int64_t m1 = M * (s + 1) / mt;
      const float* a = TA ? A + m0 : A + m0 * lda;
      micro_rw<V, TA>((int)(m1 - m0), (int)(v1 - v0), K, a, lda, B + v0 * V::L, ldb, C + m0 * ldc + v0 * V::L, ldc,
                      mode, rs ? rs + m0 : nullptr);
      m0 = m1;
    }
    v0 = v1;
  }
}

// dot(x[0:n], y[0:n]); x may be read past n up to a multiple of L (padded), y only to n.
template <class V>
inline float dot(const float* x, const float* y, int64_t n) {
  using T = typename V::R;
  T a0 = V::zero(), a1 = V::zero();
  int64_t c = 0;
  for (; c + 2 * V::L <= n; c += 2 * V::L) {
    a0 = V::fma(V::load(x + c), V::load(y + c), a0);
    a1 = V::fma(V::load(x + c + V::L), V::load(y + c + V::L), a1);
  }
  for (; c + V::L <= n; c += V::L) a0 = V::fma(V::load(x + c), V::load(y + c), a0);
  if (c < n) a1 = V::fma(V::load_n(x + c, (int)(n - c)), V::load_n(y + c, (int)(n - c)), a1);
  return V::hsum(V::add(a0, a1));
}

// y[0:n] = x[0:n] * s with x padded (readable to a multiple of L); y is written only to n.
template <class V>
inline void store_row(float* y, const float* x, int64_t n, float s) {
  typename V::R sv = V::set1(s);
  int64_t c = 0;
  for (; c + V::L <= n; c += V::L) V::store(y + c, V::mul(V::load(x + c), sv));
  if (c < n) V::store_n(y + c, V::mul(V::load(x + c), sv), (int)(n - c));
}

// y[0:hdp] = x[0:n] followed by zeros.
template <class V>
inline void pack_row(float* y, const float* x, int64_t n, int64_t hdp) {
  int64_t c = 0;
  for (; c + V::L <= n; c += V::L) V::store(y + c, V::load(x + c));
  if (c < n) {
    V::store(y + c, V::load_n(x + c, (int)(n - c)));
    c += V::L;
  }
  for (; c < hdp; c += V::L) V::store(y + c, V::zero());
}

// Kt[c*ldt + j] = k[j*k_rs + c] for j < n, c < hd; columns [n, np) are zeroed.
template <class V>
void pack_transposed(float* kt, int64_t ldt, const float* k, int64_t k_rs, int64_t n, int64_t np, int64_t hd) {
  constexpr int L = V::L;
  const int64_t nf = n / L * L, hf = hd / L * L;
  for (int64_t j0 = 0; j0 < nf; j0 += L) {
    for (int64_t c0 = 0; c0 < hf; c0 += L) V::transpose(k + j0 * k_rs + c0, k_rs, kt + c0 * ldt + j0, ldt);
    for (int64_t c = hf; c < hd; c++)
      for (int64_t j = j0; j < j0 + L; j++) kt[c * ldt + j] = k[j * k_rs + c];
  }
  for (int64_t c = 0; c < hd; c++) {
    float* d = kt + c * ldt;
    for (int64_t j = nf; j < n; j++) d[j] = k[j * k_rs + c];
    for (int64_t j = n; j < np; j++) d[j] = 0.f;
  }
}

// Online-softmax step on `rows` rows of scores (kb valid of kbp), t = c * s in base-2 units:
// P = 2^(t - m_new) overwrites the scores, alpha = 2^(m_old - m_new) rescales earlier sums.
template <class V>
void softmax_rows(int64_t rows, int64_t kb, int64_t kbp, float c, float* S, float* m, float* l, float* alpha) {
  using T = typename V::R;
  const T cv = V::set1(c);
  for (int64_t i = 0; i < rows; i++) {
    float* s = S + i * kbp;
    T mx = V::set1(kNegInf);
    int64_t j = 0;
    for (; j + V::L <= kb; j += V::L) {
      T t = V::mul(V::load(s + j), cv);
      V::store(s + j, t);
      mx = V::max(mx, t);
    }
    for (; j < kb; j++) s[j] *= c;
    for (j = kb; j < kbp; j++) s[j] = kNegInf;
    for (j = kb / V::L * V::L; j < kbp; j += V::L) mx = V::max(mx, V::load(s + j));
    float mnew = fmaxf_(m[i], V::hmax(mx));
    float a = __builtin_exp2f(m[i] - mnew);
    T mv = V::set1(mnew), sum = V::zero();
    for (int64_t j = 0; j < kbp; j += V::L) {
      T p = V::exp2(V::sub(V::load(s + j), mv));
      V::store(s + j, p);
      sum = V::add(sum, p);
    }
    l[i] = l[i] * a + V::hsum(sum);
    m[i] = mnew;
    alpha[i] = a;
  }
}

// Backward row step: P = 2^(c * s - lse2) over the scores, dS = P * (dP - D) over dP.
template <class V>
void grad_rows(int64_t rows, int64_t kb, int64_t kbp, float c, float* S, float* dP, const float* lse2, const float* D) {
  using T = typename V::R;
  const T cv = V::set1(c);
  for (int64_t i = 0; i < rows; i++) {
    float* s = S + i * kbp;
    float* dp = dP + i * kbp;
    for (int64_t j = kb; j < kbp; j++) s[j] = dp[j] = 0.f;  // pad columns: finite, never read back
    T ls = V::set1(lse2[i]), dd = V::set1(D[i]);
    for (int64_t j = 0; j < kbp; j += V::L) {
      T p = V::exp2(V::sub(V::mul(V::load(s + j), cv), ls));
      V::store(s + j, p);
      V::store(dp + j, V::mul(p, V::sub(V::load(dp + j), dd)));
    }
  }
}

// Bounds of part t of n over [0, len), each part starting at a multiple of kPad.
inline int64_t split_at(int64_t len, int64_t n, int64_t t) {
  return t >= n ? len : imin(len, rup(len * t / n, kPad));
}

// How many key chunks each (batch*head, query block) is split into: only when the other
// items do not keep every thread busy; then aim at ~8 items per thread for balance.
inline int64_t key_chunks(int64_t base_items, int64_t Nk) {
  int64_t nt = threads();
  if (nt <= 1 || base_items >= 4 * nt) return 1;
  return imax(1, imin(cdiv(8 * nt, base_items), Nk / kMinChunk));
}

inline int64_t take(int64_t* next) { return __atomic_fetch_add(next, 1, __ATOMIC_RELAXED); }

// ---------------------------------------------------------------------------------------------
// Forward

struct Fwd {
  const AttnArgs* a;
  int64_t hd, hdp, BH, nqb, nkc, Nkp, qbmax, nitems;
  int64_t bh0, gbh;         // the group of (batch, head) pairs whose K/V are packed
  float c;                  // scale * log2 e
  const float* kt;          // [gbh][hd][Nkp] (tile path)
  const float* vp;          // [gbh][Nk][hdp] (tile path)
  float *po, *pm, *pl;      // partials per (bh, i, kc) when nkc > 1
  int64_t next;
};

// Writes one finished query row (O unnormalised, base-2 max m, sum l), or its partial.
template <class V>
inline void fwd_emit(const Fwd& f, int64_t bh, int64_t i, int64_t kc, const float* O, float m, float l) {
  const AttnArgs& a = *f.a;
  if (f.nkc == 1) {
    int64_t b = bh / a.H, h = bh % a.H;
    store_row<V>(a.o + (b * a.Nq + i) * a.o_rs + h * f.hd, O, f.hd, 1.f / l);
    if (a.lse) a.lse[bh * a.Nq + i] = (m + __builtin_log2f(l)) * kLn2;
  } else {
    int64_t r = (bh * a.Nq + i) * f.nkc + kc;
    for (int64_t c = 0; c < f.hdp; c += V::L) V::store(f.po + r * f.hdp + c, V::load(O + c));
    f.pm[r] = m;
    f.pl[r] = l;
  }
}

template <class V>
void fwd_pack(void* ctx, int tid, int nt) {
  Fwd& f = *(Fwd*)ctx;
  const AttnArgs& a = *f.a;
  for (int64_t g; (g = take(&f.next)) < f.gbh;) {
    int64_t bh = f.bh0 + g, b = bh / a.H, h = bh % a.H;
    const float* k = a.k + b * a.Nk * a.k_rs + h * f.hd;
    const float* v = a.v + b * a.Nk * a.v_rs + h * f.hd;
    pack_transposed<V>((float*)f.kt + g * f.hd * f.Nkp, f.Nkp, k, a.k_rs, a.Nk, f.Nkp, f.hd);
    float* vp = (float*)f.vp + g * a.Nk * f.hdp;
    for (int64_t j = 0; j < a.Nk; j++) pack_row<V>(vp + j * f.hdp, v + j * a.v_rs, f.hd, f.hdp);
  }
}

template <class V>
void fwd_tile(void* ctx, int tid, int nt) {
  Fwd& f = *(Fwd*)ctx;
  const AttnArgs& a = *f.a;
  const int64_t kbp_max = kFwdKB + 2 * kPad;
  float* S = scratch(0, f.qbmax * kbp_max + f.qbmax * f.hdp + 3 * f.qbmax + 64);
  float* O = S + f.qbmax * kbp_max;
  float* m = O + f.qbmax * f.hdp;
  float* l = m + f.qbmax;
  float* al = l + f.qbmax;
  for (int64_t it; (it = take(&f.next)) < f.nitems;) {
    int64_t kc = it % f.nkc, qi = (it / f.nkc) % f.nqb, g = it / (f.nkc * f.nqb);
    int64_t bh = f.bh0 + g, b = bh / a.H, h = bh % a.H;
    int64_t q0 = a.Nq * qi / f.nqb, qb = a.Nq * (qi + 1) / f.nqb - q0;
    int64_t ks = split_at(a.Nk, f.nkc, kc), ke = split_at(a.Nk, f.nkc, kc + 1);
    const float* q = a.q + (b * a.Nq + q0) * a.q_rs + h * f.hd;
    const float* kt = f.kt + g * f.hd * f.Nkp;
    const float* vp = f.vp + g * a.Nk * f.hdp;
    for (int64_t i = 0; i < qb; i++) {
      m[i] = kNegInf;
      l[i] = 0.f;
    }
    int64_t nkb = imax(1, cdiv(ke - ks, kFwdKB));
    for (int64_t t = 0; t < nkb; t++) {
      int64_t k0 = ks + split_at(ke - ks, nkb, t), kb = ks + split_at(ke - ks, nkb, t + 1) - k0;
      if (kb <= 0) continue;
      int64_t kbp = rup(kb, kPad);
      gemm<V, false>(qb, kbp, f.hd, q, a.q_rs, kt + k0, f.Nkp, S, kbp, kSet);
      softmax_rows<V>(qb, kb, kbp, f.c, S, m, l, al);
      gemm<V, false>(qb, f.hdp, kb, S, kbp, vp + k0 * f.hdp, f.hdp, O, f.hdp, t == 0 ? kSet : kRescale, al);
    }
    if (ke <= ks)
      for (int64_t i = 0; i < qb * f.hdp; i++) O[i] = 0.f;
    for (int64_t i = 0; i < qb; i++) fwd_emit<V>(f, bh, q0 + i, kc, O + i * f.hdp, m[i], l[i]);
  }
}

// Few queries: scores by dot products against K rows in place, no packing.
template <class V>
void fwd_rows(void* ctx, int tid, int nt) {
  Fwd& f = *(Fwd*)ctx;
  const AttnArgs& a = *f.a;
  int64_t chunk = rup(cdiv(a.Nk, f.nkc), kPad) + 2 * kPad;
  float* s = scratch(0, chunk + 2 * f.hdp + 16);
  float* qv = s + chunk;
  float* O = qv + f.hdp;
  for (int64_t it; (it = take(&f.next)) < f.nitems;) {
    int64_t kc = it % f.nkc, bh = it / f.nkc;
    int64_t b = bh / a.H, h = bh % a.H;
    int64_t ks = split_at(a.Nk, f.nkc, kc), ke = split_at(a.Nk, f.nkc, kc + 1), kb = ke - ks;
    int64_t kbp = rup(kb, kPad);
    const float* k = a.k + (b * a.Nk + ks) * a.k_rs + h * f.hd;
    const float* v = a.v + (b * a.Nk + ks) * a.v_rs + h * f.hd;
    for (int64_t i = 0; i < a.Nq; i++) {
      pack_row<V>(qv, a.q + (b * a.Nq + i) * a.q_rs + h * f.hd, f.hd, f.hdp);
      for (int64_t j = 0; j < kb; j++) s[j] = dot<V>(qv, k + j * a.k_rs, f.hd);
      float m = kNegInf, l = 0.f, al;
      if (kb > 0) softmax_rows<V>(1, kb, kbp, f.c, s, &m, &l, &al);
      for (int64_t c = 0; c < f.hdp; c += V::L) V::store(O + c, V::zero());
      for (int64_t j = 0; j < kb; j++) {
        typename V::R p = V::set1(s[j]);
        const float* vr = v + j * a.v_rs;
        int64_t c = 0;
        for (; c + V::L <= f.hd; c += V::L) V::store(O + c, V::fma(p, V::load(vr + c), V::load(O + c)));
        if (c < f.hd) V::store(O + c, V::fma(p, V::load_n(vr + c, (int)(f.hd - c)), V::load(O + c)));
      }
      fwd_emit<V>(f, bh, i, kc, O, m, l);
    }
  }
}

// Merges the key-chunk partials of each query row with the log-sum-exp trick.
template <class V>
void fwd_merge(void* ctx, int tid, int nt) {
  Fwd& f = *(Fwd*)ctx;
  const AttnArgs& a = *f.a;
  float* O = scratch(0, f.hdp + 16);
  const int64_t rows = f.BH * a.Nq;
  for (int64_t r0; (r0 = take(&f.next) * 16) < rows;) {
    for (int64_t r = r0; r < imin(rows, r0 + 16); r++) {
      const float* pm = f.pm + r * f.nkc;
      const float* pl = f.pl + r * f.nkc;
      float M = kNegInf;
      for (int64_t kc = 0; kc < f.nkc; kc++) M = fmaxf_(M, pm[kc]);
      float Lsum = 0.f;
      for (int64_t c = 0; c < f.hdp; c += V::L) V::store(O + c, V::zero());
      for (int64_t kc = 0; kc < f.nkc; kc++) {
        float w = pl[kc] > 0.f ? __builtin_exp2f(pm[kc] - M) : 0.f;
        Lsum += w * pl[kc];
        typename V::R wv = V::set1(w);
        const float* po = f.po + (r * f.nkc + kc) * f.hdp;
        for (int64_t c = 0; c < f.hdp; c += V::L) V::store(O + c, V::fma(wv, V::load(po + c), V::load(O + c)));
      }
      int64_t bh = r / a.Nq, i = r % a.Nq, b = bh / a.H, h = bh % a.H;
      store_row<V>(a.o + (b * a.Nq + i) * a.o_rs + h * f.hd, O, f.hd, 1.f / Lsum);
      if (a.lse) a.lse[bh * a.Nq + i] = (M + __builtin_log2f(Lsum)) * kLn2;
    }
  }
}

template <class V>
void attention_fwd_impl(const AttnArgs& a) {
  if (a.B <= 0 || a.H <= 0 || a.Nq <= 0 || a.Nk <= 0) return;
  Fwd f{};
  f.a = &a;
  f.hd = a.hd;
  f.hdp = rup(a.hd, kPad);
  f.BH = a.B * a.H;
  f.c = a.scale * kLog2e;
  const bool rows = a.Nq < kRowPathMaxNq;
  f.nqb = rows ? 1 : cdiv(a.Nq, kFwdQB);
  f.qbmax = cdiv(a.Nq, f.nqb);
  f.nkc = key_chunks(f.BH * f.nqb, a.Nk);
  f.Nkp = rup(a.Nk, kPad);
  // K/V of at most pack_budget() floats are packed at once; (batch, head) pairs go in groups.
  const int64_t per_bh = f.hd * f.Nkp + a.Nk * f.hdp;
  const int64_t group = rows ? f.BH : imax(1, imin(f.BH, pack_budget() / per_bh));
  size_t shared = 0;
  if (!rows) shared += (size_t)(group * per_bh);
  if (f.nkc > 1) shared += (size_t)(f.BH * a.Nq * f.nkc * (f.hdp + 2));
  float* sh = scratch(1, shared + 64);
  if (!rows) {
    f.kt = sh;
    f.vp = sh + group * f.hd * f.Nkp;
    sh += group * per_bh;
  }
  if (f.nkc > 1) {
    f.po = sh;
    f.pm = f.po + f.BH * a.Nq * f.nkc * f.hdp;
    f.pl = f.pm + f.BH * a.Nq * f.nkc;
  }
  if (!rows) {
    for (f.bh0 = 0; f.bh0 < f.BH; f.bh0 += group) {
      f.gbh = imin(group, f.BH - f.bh0);
      f.nitems = f.gbh * f.nqb * f.nkc;
      f.next = 0;
      parallel(fwd_pack<V>, &f);
      f.next = 0;
      parallel(fwd_tile<V>, &f);
    }
  } else {
    f.nitems = f.BH * f.nkc;
    f.next = 0;
    parallel(fwd_rows<V>, &f);
  }
  if (f.nkc > 1) {
    f.next = 0;
    parallel(fwd_merge<V>, &f);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward

struct Bwd {
  const AttnArgs* a;
  int64_t hd, hdp, BH, nkc, nqb, qbmax, nitems;
  float c;      // scale * log2 e
  float* dqp;   // dq partials [BH][nkc][Nq][hdp] when nkc > 1
  int64_t next;
};

// Packs Q and dO of one (batch, head) with padded rows, and D = rowsum(dO * O), lse in base 2.
template <class V>
void bwd_prep(const Bwd& g, int64_t bh, float* Qp, float* dOp, float* D, float* lse2) {
  const AttnArgs& a = *g.a;
  int64_t b = bh / a.H, h = bh % a.H;
  for (int64_t i = 0; i < a.Nq; i++) {
    int64_t row = b * a.Nq + i;
    pack_row<V>(Qp + i * g.hdp, a.q + row * a.q_rs + h * g.hd, g.hd, g.hdp);
    pack_row<V>(dOp + i * g.hdp, a.dout + row * a.dout_rs + h * g.hd, g.hd, g.hdp);
    D[i] = dot<V>(dOp + i * g.hdp, a.o + row * a.o_rs + h * g.hd, g.hd);
    lse2[i] = a.lse[bh * a.Nq + i] * kLog2e;
  }
}

inline float* bwd_dq_target(const Bwd& g, int64_t bh, int64_t kc, float* local) {
  return g.nkc == 1 ? local : g.dqp + (bh * g.nkc + kc) * g.a->Nq * g.hdp;
}

template <class V>
void bwd_dq_emit(const Bwd& g, int64_t bh, const float* dq) {
  const AttnArgs& a = *g.a;
  int64_t b = bh / a.H, h = bh % a.H;
  for (int64_t i = 0; i < a.Nq; i++)
    store_row<V>(a.dq + (b * a.Nq + i) * a.dq_rs + h * g.hd, dq + i * g.hdp, g.hd, a.scale);
}

template <class V>
void bwd_tile(void* ctx, int tid, int nt) {
  Bwd& g = *(Bwd*)ctx;
  const AttnArgs& a = *g.a;
  const int64_t hd = g.hd, hdp = g.hdp, Nq = a.Nq, kbp_max = kBwdKB + 2 * kPad;
  const int64_t n_qp = Nq * hdp, n_kt = hd * kbp_max, n_kp = kbp_max * hdp, n_s = g.qbmax * kbp_max;
  float* Qp = scratch(0, 3 * n_qp + 2 * Nq + 2 * n_kt + 3 * n_kp + 2 * n_s + 64);
  float* dOp = Qp + n_qp;
  float* dQl = dOp + n_qp;
  float* D = dQl + n_qp;
  float* lse2 = D + Nq;
  float* Kt = lse2 + Nq;
  float* Vt = Kt + n_kt;
  float* Kp = Vt + n_kt;
  float* dKb = Kp + n_kp;
  float* dVb = dKb + n_kp;
  float* S = dVb + n_kp;
  float* dP = S + n_s;
  for (int64_t it; (it = take(&g.next)) < g.nitems;) {
    int64_t kc = it % g.nkc, bh = it / g.nkc;
    int64_t b = bh / a.H, h = bh % a.H;
    int64_t ks = split_at(a.Nk, g.nkc, kc), ke = split_at(a.Nk, g.nkc, kc + 1);
    bwd_prep<V>(g, bh, Qp, dOp, D, lse2);
    float* dQ = bwd_dq_target(g, bh, kc, dQl);
    if (ke <= ks)
      for (int64_t i = 0; i < n_qp; i++) dQ[i] = 0.f;
    int64_t nkb = imax(1, cdiv(ke - ks, kBwdKB));
    for (int64_t t = 0; t < nkb; t++) {
      int64_t k0 = ks + split_at(ke - ks, nkb, t), kb = ks + split_at(ke - ks, nkb, t + 1) - k0;
      if (kb <= 0) continue;
      int64_t kbp = rup(kb, kPad);
      const float* k = a.k + (b * a.Nk + k0) * a.k_rs + h * hd;
      const float* v = a.v + (b * a.Nk + k0) * a.v_rs + h * hd;
      pack_transposed<V>(Kt, kbp, k, a.k_rs, kb, kbp, hd);
      pack_transposed<V>(Vt, kbp, v, a.v_rs, kb, kbp, hd);
      for (int64_t j = 0; j < kb; j++) pack_row<V>(Kp + j * hdp, k + j * a.k_rs, hd, hdp);
      for (int64_t qi = 0; qi < g.nqb; qi++) {
        int64_t q0 = Nq * qi / g.nqb, qb = Nq * (qi + 1) / g.nqb - q0;
        gemm<V, false>(qb, kbp, hd, Qp + q0 * hdp, hdp, Kt, kbp, S, kbp, kSet);
        gemm<V, false>(qb, kbp, hd, dOp + q0 * hdp, hdp, Vt, kbp, dP, kbp, kSet);
        grad_rows<V>(qb, kb, kbp, g.c, S, dP, lse2 + q0, D + q0);
        int mode = qi == 0 ? kSet : kAcc;
        gemm<V, true>(kb, hdp, qb, S, kbp, dOp + q0 * hdp, hdp, dVb, hdp, mode);
        gemm<V, true>(kb, hdp, qb, dP, kbp, Qp + q0 * hdp, hdp, dKb, hdp, mode);
        gemm<V, false>(qb, hdp, kb, dP, kbp, Kp, hdp, dQ + q0 * hdp, hdp, t == 0 ? kSet : kAcc);
      }
      for (int64_t j = 0; j < kb; j++) {
        int64_t row = b * a.Nk + k0 + j;
        store_row<V>(a.dk + row * a.dk_rs + h * hd, dKb + j * hdp, hd, a.scale);
        store_row<V>(a.dv + row * a.dv_rs + h * hd, dVb + j * hdp, hd, 1.f);
      }
    }
    if (g.nkc == 1) bwd_dq_emit<V>(g, bh, dQ);
  }
}

// Few queries: K and V rows are read in place (no packing); products are dot/axpy over head_dim.
template <class V>
void bwd_rows(void* ctx, int tid, int nt) {
  using T = typename V::R;
  Bwd& g = *(Bwd*)ctx;
  const AttnArgs& a = *g.a;
  const int64_t hd = g.hd, hdp = g.hdp, Nq = a.Nq, kbp_max = kBwdKB + 2 * kPad;
  const int64_t n_qp = Nq * hdp, n_s = Nq * kbp_max;
  float* Qp = scratch(0, 3 * n_qp + 2 * Nq + 2 * n_s + 64);
  float* dOp = Qp + n_qp;
  float* dQl = dOp + n_qp;
  float* D = dQl + n_qp;
  float* lse2 = D + Nq;
  float* S = lse2 + Nq;
  float* dP = S + n_s;
  for (int64_t it; (it = take(&g.next)) < g.nitems;) {
    int64_t kc = it % g.nkc, bh = it / g.nkc;
    int64_t b = bh / a.H, h = bh % a.H;
    int64_t ks = split_at(a.Nk, g.nkc, kc), ke = split_at(a.Nk, g.nkc, kc + 1);
    bwd_prep<V>(g, bh, Qp, dOp, D, lse2);
    float* dQ = bwd_dq_target(g, bh, kc, dQl);
    for (int64_t i = 0; i < n_qp; i++) dQ[i] = 0.f;
    for (int64_t k0 = ks; k0 < ke; k0 += kBwdKB) {
      int64_t kb = imin(kBwdKB, ke - k0), kbp = rup(kb, kPad);
      const float* k = a.k + (b * a.Nk + k0) * a.k_rs + h * hd;
      const float* v = a.v + (b * a.Nk + k0) * a.v_rs + h * hd;
      for (int64_t i = 0; i < Nq; i++)
        for (int64_t j = 0; j < kb; j++) {
          S[i * kbp + j] = dot<V>(Qp + i * hdp, k + j * a.k_rs, hd);
          dP[i * kbp + j] = dot<V>(dOp + i * hdp, v + j * a.v_rs, hd);
        }
      grad_rows<V>(Nq, kb, kbp, g.c, S, dP, lse2, D);
      const T sc = V::set1(a.scale);
      for (int64_t j = 0; j < kb; j++) {
        int64_t row = b * a.Nk + k0 + j;
        float* dv = a.dv + row * a.dv_rs + h * hd;
        float* dk = a.dk + row * a.dk_rs + h * hd;
        // dv_j = sum_i P_ij dO_i, dk_j = scale * sum_i dS_ij q_i
        for (int64_t c = 0; c < hd; c += V::L) {
          T sv = V::zero(), sk = V::zero();
          for (int64_t i = 0; i < Nq; i++) {
            sv = V::fma(V::set1(S[i * kbp + j]), V::load(dOp + i * hdp + c), sv);
            sk = V::fma(V::set1(dP[i * kbp + j]), V::load(Qp + i * hdp + c), sk);
          }
          sk = V::mul(sk, sc);
          if (c + V::L <= hd) {
            V::store(dv + c, sv);
            V::store(dk + c, sk);
          } else {
            V::store_n(dv + c, sv, (int)(hd - c));
            V::store_n(dk + c, sk, (int)(hd - c));
          }
        }
      }
      for (int64_t i = 0; i < Nq; i++) {
        float* dq = dQ + i * hdp;
        for (int64_t j = 0; j < kb; j++) {
          T ds = V::set1(dP[i * kbp + j]);
          const float* kr = k + j * a.k_rs;
          int64_t c = 0;
          for (; c + V::L <= hd; c += V::L) V::store(dq + c, V::fma(ds, V::load(kr + c), V::load(dq + c)));
          if (c < hd) V::store(dq + c, V::fma(ds, V::load_n(kr + c, (int)(hd - c)), V::load(dq + c)));
        }
      }
    }
    if (g.nkc == 1) bwd_dq_emit<V>(g, bh, dQ);
  }
}

// dq = scale * (sum of the key-chunk partials, in chunk order).
template <class V>
void bwd_merge(void* ctx, int tid, int nt) {
  Bwd& g = *(Bwd*)ctx;
  const AttnArgs& a = *g.a;
  float* acc = scratch(0, g.hdp + 16);
  const int64_t rows = g.BH * a.Nq;
  for (int64_t r0; (r0 = take(&g.next) * 16) < rows;) {
    for (int64_t r = r0; r < imin(rows, r0 + 16); r++) {
      int64_t bh = r / a.Nq, i = r % a.Nq, b = bh / a.H, h = bh % a.H;
      for (int64_t c = 0; c < g.hdp; c += V::L) V::store(acc + c, V::zero());
      for (int64_t kc = 0; kc < g.nkc; kc++) {
        const float* p = g.dqp + ((bh * g.nkc + kc) * a.Nq + i) * g.hdp;
        for (int64_t c = 0; c < g.hdp; c += V::L) V::store(acc + c, V::add(V::load(acc + c), V::load(p + c)));
      }
      store_row<V>(a.dq + (b * a.Nq + i) * a.dq_rs + h * g.hd, acc, g.hd, a.scale);
    }
  }
}

template <class V>
void attention_bwd_impl(const AttnArgs& a) {
  if (a.B <= 0 || a.H <= 0 || a.Nk <= 0) return;
  Bwd g{};
  g.a = &a;
  g.hd = a.hd;
  g.hdp = rup(a.hd, kPad);
  g.BH = a.B * a.H;
  g.c = a.scale * kLog2e;
  if (a.Nq <= 0) {
    // No queries: every key gets zero gradient.
    for (int64_t r = 0; r < a.B * a.Nk; r++)
      for (int64_t h = 0; h < a.H; h++)
        for (int64_t c = 0; c < a.hd; c++) a.dk[r * a.dk_rs + h * a.hd + c] = a.dv[r * a.dv_rs + h * a.hd + c] = 0.f;
    return;
  }
  const bool rows = a.Nq < kRowPathMaxNq;
  g.nqb = cdiv(a.Nq, kBwdQB);
  g.qbmax = cdiv(a.Nq, g.nqb);
  g.nkc = key_chunks(g.BH, a.Nk);
  g.nitems = g.BH * g.nkc;
  if (g.nkc > 1) g.dqp = scratch(1, (size_t)(g.BH * g.nkc * a.Nq * g.hdp) + 64);
  g.next = 0;
  parallel(rows ? bwd_rows<V> : bwd_tile<V>, &g);
  if (g.nkc > 1) {
    g.next = 0;
    parallel(bwd_merge<V>, &g);
  }
}

}  // namespace
}  // namespace vj::cpu::attn

// Defines the entry points of one instruction set.
#define VJ_ATTENTION_ENTRY_POINTS(SUFFIX, VEC)                                                           \
  namespace vj::cpu {                                                                                  \
  void attention_fwd_##SUFFIX(const AttnArgs& a) { attn::attention_fwd_impl<attn::VEC>(a); }          \
  void attention_bwd_##SUFFIX(const AttnArgs& a) { attn::attention_bwd_impl<attn::VEC>(a); }          \
  }
