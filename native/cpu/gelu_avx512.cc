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

// exp for a in [-87, 88] (clamped): n = round(a / ln2), r = a - n ln2 (two-part ln2), degree-6 fit
// of e^r on [-ln2/2, ln2/2] (rel err 2.6e-9), times 2^n.
static inline V::reg vexp(V::reg a) {
  a = V::max(V::min(a, V::set1(88.f)), V::set1(-87.f));
  V::reg n = V::round(V::mul(a, V::set1(1.44269504088896341f)));
  V::reg r = V::fma(n, V::set1(-0.693359375f), a);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  V::reg p = V::set1(0.0013948581f);
  p = V::fma(p, r, V::set1(0.008375129f));
  p = V::fma(p, r, V::set1(0.041666217f));
  p = V::fma(p, r, V::set1(0.16666415f));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.f));
  p = V::fma(p, r, V::set1(1.f));
  return V::scale2(p, n);
}

// erf in float, max rel err ~1.8e-7 (fits made in float64 by Chebyshev least squares):
//   |z| <= 1:     z * P5(z^2)
//   1 < |z| < 4:  1 - exp(P7(|z| - 2.5)), P7 ~ log erfc (erf rounds to 1 beyond 4)
static inline V::reg verf(V::reg z) {
  const V::reg one = V::set1(1.f);
  V::reg t = V::abs(z);
  V::reg u = V::mul(z, z);
  V::reg pa = V::set1(-0.0005654106f);
  pa = V::fma(pa, u, V::set1(0.0049232775f));
  pa = V::fma(pa, u, V::set1(-0.026716385f));
  pa = V::fma(pa, u, V::set1(0.112803645f));
  pa = V::fma(pa, u, V::set1(-0.3761235f));
  pa = V::fma(pa, u, V::set1(1.1283791f));
  V::reg ea = V::mul(t, pa);
  V::reg s = V::sub(V::min(t, V::set1(4.f)), V::set1(2.5f));
  V::reg pb = V::set1(-1.330939e-05f);
  pb = V::fma(pb, s, V::set1(8.46577e-05f));
  pb = V::fma(pb, s, V::set1(-0.00042014456f));
  pb = V::fma(pb, s, V::set1(0.0021549463f));
  pb = V::fma(pb, s, V::set1(-0.010858517f));
  pb = V::fma(pb, s, V::set1(-0.943889f));
  pb = V::fma(pb, s, V::set1(-5.3526807f));
  pb = V::fma(pb, s, V::set1(-7.8068156f));
  V::reg eb = V::sub(one, vexp(pb));
  return V::or_(V::select_gt(t, one, ea, eb), V::sign(z));
}

static inline V::reg gelu_v(V::reg x) {
  V::reg h = V::mul(x, V::set1(0.5f));
  return V::fma(h, verf(V::mul(x, V::set1(0.70710678118654752f))), h);
}

static inline V::reg gelu_grad_v(V::reg x, V::reg dy) {
  V::reg cdf = V::fma(V::set1(0.5f), verf(V::mul(x, V::set1(0.70710678118654752f))), V::set1(0.5f));
  V::reg pdf = V::mul(vexp(V::mul(V::mul(x, x), V::set1(-0.5f))), V::set1(0.39894228040143268f));
  return V::mul(dy, V::fma(x, pdf, cdf));
}

static void fwd_range(const float* x, float* y, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) V::store(y + i, gelu_v(V::load(x + i)));
  if (i < i1) {
    auto m = V::tail_mask((int)(i1 - i));
    V::store_tail(y + i, m, gelu_v(V::load_tail(x + i, m)));
  }
}

static void bwd_range(const float* x, const float* dy, float* dx, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) V::store(dx + i, gelu_grad_v(V::load(x + i), V::load(dy + i)));
  if (i < i1) {
    auto m = V::tail_mask((int)(i1 - i));
    V::store_tail(dx + i, m, gelu_grad_v(V::load_tail(x + i, m), V::load_tail(dy + i, m)));
  }
}

}  // namespace

void gelu_fwd_range(const float* x, float* y, int64_t i0, int64_t i1) { fwd_range(x, y, i0, i1); }
void gelu_bwd_range(const float* x, const float* dy, float* dx, int64_t i0, int64_t i1) { bwd_range(x, dy, dx, i0, i1); }

}  // namespace vj::cpu::avx512
