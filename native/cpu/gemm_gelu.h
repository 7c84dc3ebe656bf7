// Exact-erf GELU on a vector (GCC vector extensions, so each ISA file compiles it to its own
// registers). gelu(v) = v/2 * (1 + erf(v/sqrt2)); for z = v/sqrt2 < 0 the bracket is erfc(|z|),
// computed directly so the negative tail keeps its relative accuracy.
//   |z| < 1: erf(z) = z * P(z^2)             (minimax, rel err 1.2e-9)
//   |z| >= 0.5: erfc(z) = exp(-z^2) * t*Q(t), t = 1/(1 + z/2)   (rel err 8.8e-9 on [0.45, 10])
// erf(z) for z >= 1 is 1 - erfc(z); 1 + erf(z) for z <= -0.5 is erfc(|z|).
// exp(-z^2) = exp(-v^2/2) takes v^2/2 as an exact head (12-bit split of v) plus a small tail
// folded into the reduced argument, so no rounding of z or z^2 is amplified by 2z^2.
// Coefficients were fitted by Lawson-weighted least squares against scipy's erf/erfcx.
#pragma once
#include <cstdint>

namespace vj::cpu {
namespace {

// Recip(x) returns 1/x to ~1 ulp (ISAs with a fast reciprocal estimate pass their own).
template <class V>
struct DivRecip {
  V operator()(V x) const { return 1.f / x; }
};

template <class V, class VI, class Recip = DivRecip<V>>
inline V gelu_vec(V v, Recip recip = Recip()) {
  const V one = V{} + 1.f, half = V{} + 0.5f;
  V z = v * 0.70710678118654752f;
  V a = (V)((VI)z & 0x7fffffff);
  V a2 = a * a;
  // erf(a), a < 1
  V ps = V{} + 7.853904185943505e-05f;
  ps = ps * a2 - 0.0008010207844977579f;
  ps = ps * a2 + 0.0051883295043828465f;
  ps = ps * a2 - 0.026853813054270342f;
  ps = ps * a2 + 0.11283585182186875f;
  ps = ps * a2 - 0.3761262582856947f;
  ps = ps * a2 + 1.1283791657283218f;
  V erf_s = a * ps;
  // erfc(a), a >= 1
  V ac = a < 9.2f ? a : V{} + 9.2f;
  V av = (V)((VI)v & 0x7fffffff);
  V avc = av < 13.0f ? av : V{} + 13.0f;  // 9.2 sqrt2
  V t = recip(one + 0.5f * ac);
  V q = V{} + -0.06294885861833183f;
  q = q * t + 0.30263266610801853f;
  q = q * t - 0.5220936876557575f;
  q = q * t + 0.3146428224167261f;
  q = q * t - 0.04934784727486647f;
  q = q * t + 0.21123805363281178f;
  q = q * t + 0.24120387416771208f;
  q = q * t + 0.2826027656602327f;
  q = q * t + 0.28207519136939757f;
  q = q * t;
  // z^2 = v^2/2 from v itself: rounding z first would cost 2 z^2 ulps in the tail.
  V ah = (V)((VI)avc & (int32_t)0xfffff000);
  V al = avc - ah;
  V h = 0.5f * (ah * ah);         // exact
  V d = 0.5f * (al * (avc + ah));  // v^2/2 - h
  // exp(-h - d): n = round(-h log2e), r = (-h - n ln2) - d
  V fn = (-h * 1.44269504088896341f + 12582912.f) - 12582912.f;
  V r = (-h - fn * 0.693359375f) - fn * -2.12194440e-4f;
  r = r - d;
  V e = V{} + 1.9875691500e-4f;
  e = e * r + 1.3981999507e-3f;
  e = e * r + 8.3334519073e-3f;
  e = e * r + 4.1665795894e-2f;
  e = e * r + 1.6666665459e-1f;
  e = e * r + 5.0000001201e-1f;
  e = e * (r * r) + r + one;
  VI ni = __builtin_convertvector(fn, VI);
  e = (V)((VI)e + (ni << 23));
  V erfc_b = e * q;
  V erf_a = a < 1.f ? erf_s : one - erfc_b;
  V erfc_a = a < 0.5f ? one - erf_s : erfc_b;  // 1 - erf loses digits past 0.5
  V br = z >= 0.f ? one + erf_a : erfc_a;
  return half * v * br;
}

}  // namespace
}  // namespace vj::cpu
