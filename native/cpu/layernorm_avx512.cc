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

// Row kernels for rows [r0, r1); the same text in layernorm_avx512.cc and layernorm_avx2.cc over V.
static void fwd_rows(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t r0,
                     int64_t r1, int64_t cols, float eps) {
  constexpr int64_t L = V::W;
  const int64_t full = cols - cols % L;
  const int rem = (int)(cols - full);
  const auto tm = V::tail_mask(rem);
  const float inv = 1.f / (float)cols;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Two passes (mean, then centred variance), two accumulators each for latency.
    typename V::reg s0 = V::zero(), s1 = V::zero();
    int64_t c = 0;
    for (; c + 2 * L <= cols; c += 2 * L) {
      s0 = V::add(s0, V::load(xr + c));
      s1 = V::add(s1, V::load(xr + c + L));
    }
    for (; c < full; c += L) s0 = V::add(s0, V::load(xr + c));
    if (rem) s1 = V::add(s1, V::load_tail(xr + full, tm));
    const float mu = V::sum(V::add(s0, s1)) * inv;
    const typename V::reg vmu = V::set1(mu);
    s0 = V::zero();
    s1 = V::zero();
    for (c = 0; c + 2 * L <= cols; c += 2 * L) {
      typename V::reg d0 = V::sub(V::load(xr + c), vmu), d1 = V::sub(V::load(xr + c + L), vmu);
      s0 = V::fma(d0, d0, s0);
      s1 = V::fma(d1, d1, s1);
    }
    for (; c < full; c += L) {
      typename V::reg d = V::sub(V::load(xr + c), vmu);
      s0 = V::fma(d, d, s0);
    }
    if (rem) {
      typename V::reg d = V::sub(V::load_tail(xr + full, tm), V::and_tail(vmu, tm));
      s1 = V::fma(d, d, s1);
    }
    const float rs = 1.f / std::sqrt(V::sum(V::add(s0, s1)) * inv + eps);
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
    const typename V::reg vrs = V::set1(rs);
    auto out = [&](typename V::reg xv, typename V::reg wv, typename V::reg bv) {
      typename V::reg xh = V::mul(V::sub(xv, vmu), vrs);
      return w ? V::fma(xh, wv, bv) : V::add(xh, bv);
    };
    for (c = 0; c < full; c += L)
      V::store(yr + c, out(V::load(xr + c), w ? V::load(w + c) : V::zero(), b ? V::load(b + c) : V::zero()));
    if (rem)
      V::store_tail(yr + full, tm,
                    out(V::load_tail(xr + full, tm), w ? V::load_tail(w + full, tm) : V::zero(),
                        b ? V::load_tail(b + full, tm) : V::zero()));
  }
}

static void bwd_rows(const float* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx,
                     float* pdw, float* pdb, int64_t r0, int64_t r1, int64_t cols) {
  constexpr int64_t L = V::W;
  const int64_t full = cols - cols % L;
  const int rem = (int)(cols - full);
  const auto tm = V::tail_mask(rem);
  const float inv = 1.f / (float)cols;
  const typename V::reg one = V::set1(1.f);
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    const typename V::reg vmu = V::set1(mean[r]), vrs = V::set1(rstd[r]);
    typename V::reg sg = V::zero(), sgx = V::zero();
    // pass 1: sum(g), sum(g * xhat) with g = dy * w; dw += dy * xhat, db += dy
    auto acc = [&](int64_t c0, typename V::reg xv, typename V::reg dyv, typename V::reg wv, bool tail) {
      typename V::reg xh = V::mul(V::sub(xv, vmu), vrs);
      if (tail) xh = V::and_tail(xh, tm);
      typename V::reg g = V::mul(dyv, wv);
      sg = V::add(sg, g);
      sgx = V::fma(g, xh, sgx);
      if (pdw) {
        if (tail) {
          V::store_tail(pdw + c0, tm, V::fma(dyv, xh, V::load_tail(pdw + c0, tm)));
          V::store_tail(pdb + c0, tm, V::add(dyv, V::load_tail(pdb + c0, tm)));
        } else {
          V::store(pdw + c0, V::fma(dyv, xh, V::load(pdw + c0)));
          V::store(pdb + c0, V::add(dyv, V::load(pdb + c0)));
        }
      }
    };
    int64_t c = 0;
    for (; c < full; c += L) acc(c, V::load(xr + c), V::load(dyr + c), w ? V::load(w + c) : one, false);
    if (rem) acc(full, V::load_tail(xr + full, tm), V::load_tail(dyr + full, tm), w ? V::load_tail(w + full, tm) : one, true);
    const float a = V::sum(sg) * inv, bq = V::sum(sgx) * inv;
    // pass 2: dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    const typename V::reg va = V::set1(a), vb = V::set1(bq);
    auto dxv = [&](typename V::reg xv, typename V::reg dyv, typename V::reg wv) {
      typename V::reg xh = V::mul(V::sub(xv, vmu), vrs);
      typename V::reg g = V::mul(dyv, wv);
      return V::mul(vrs, V::fnma(xh, vb, V::sub(g, va)));
    };
    for (c = 0; c < full; c += L) V::store(dxr + c, dxv(V::load(xr + c), V::load(dyr + c), w ? V::load(w + c) : one));
    if (rem)
      V::store_tail(dxr + full, tm,
                    dxv(V::load_tail(xr + full, tm), V::load_tail(dyr + full, tm), w ? V::load_tail(w + full, tm) : one));
  }
}

}  // namespace

void layernorm_fwd_rows(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t r0,
                        int64_t r1, int64_t cols, float eps) {
  fwd_rows(x, w, b, y, mean, rstd, r0, r1, cols, eps);
}

void layernorm_bwd_rows(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* pdw, float* pdb, int64_t r0, int64_t r1, int64_t cols) {
  bwd_rows(dy, x, w, mean, rstd, dx, pdw, pdb, r0, r1, cols);
}

}  // namespace vj::cpu::avx512
