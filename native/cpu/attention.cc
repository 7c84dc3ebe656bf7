// Baseline attention: one (batch, head, query row) at a time with an online softmax,
// so no N x N matrix is kept. The tiled, vectorised kernel replaces it.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

void attention_fwd(const AttnArgs& a) {
  const int64_t hd = a.hd;
  parallel_for(a.B * a.H * a.Nq, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> s((size_t)a.Nk), acc((size_t)hd);
    for (int64_t r = r0; r < r1; r++) {
      int64_t b = r / (a.H * a.Nq), h = (r / a.Nq) % a.H, i = r % a.Nq;
      const float* q = a.q + (b * a.Nq + i) * a.q_rs + h * hd;
      float mx = -INFINITY;
      for (int64_t j = 0; j < a.Nk; j++) {
        const float* k = a.k + (b * a.Nk + j) * a.k_rs + h * hd;
        float d = 0.f;
        for (int64_t c = 0; c < hd; c++) d += q[c] * k[c];
        s[j] = d * a.scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t j = 0; j < a.Nk; j++) {
        float e = std::exp(s[j] - mx);
        sum += e;
        const float* v = a.v + (b * a.Nk + j) * a.v_rs + h * hd;
        for (int64_t c = 0; c < hd; c++) acc[c] += e * v[c];
      }
      float* o = a.o + (b * a.Nq + i) * a.o_rs + h * hd;
      for (int64_t c = 0; c < hd; c++) o[c] = acc[c] / (float)sum;
      if (a.lse) a.lse[(b * a.H + h) * a.Nq + i] = mx + (float)std::log(sum);
    }
  });
}

void attention_bwd(const AttnArgs& a) {
  const int64_t hd = a.hd;
  // Parallel over (batch, head): dk/dv rows of one head are touched by one thread only.
  parallel_for(a.B * a.H, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> p((size_t)a.Nk);
    for (int64_t bh = r0; bh < r1; bh++) {
      int64_t b = bh / a.H, h = bh % a.H;
      for (int64_t j = 0; j < a.Nk; j++) {
        std::fill_n(a.dk + (b * a.Nk + j) * a.dk_rs + h * hd, hd, 0.f);
        std::fill_n(a.dv + (b * a.Nk + j) * a.dv_rs + h * hd, hd, 0.f);
      }
      for (int64_t i = 0; i < a.Nq; i++) {
        const float* q = a.q + (b * a.Nq + i) * a.q_rs + h * hd;
        const float* o = a.o + (b * a.Nq + i) * a.o_rs + h * hd;
        const float* dout = a.dout + (b * a.Nq + i) * a.dout_rs + h * hd;
        float* dq = a.dq + (b * a.Nq + i) * a.dq_rs + h * hd;
        float lse = a.lse[(b * a.H + h) * a.Nq + i];
        float di = 0.f;
        for (int64_t c = 0; c < hd; c++) di += dout[c] * o[c];
        std::fill_n(dq, hd, 0.f);
        for (int64_t j = 0; j < a.Nk; j++) {
          const float* k = a.k + (b * a.Nk + j) * a.k_rs + h * hd;
          const float* v = a.v + (b * a.Nk + j) * a.v_rs + h * hd;
          float s = 0.f, dp = 0.f;
          for (int64_t c = 0; c < hd; c++) {
            s += q[c] * k[c];
            dp += dout[c] * v[c];
          }
          float pij = std::exp(s * a.scale - lse);
          float ds = pij * (dp - di) * a.scale;
          float* dk = a.dk + (b * a.Nk + j) * a.dk_rs + h * hd;
          float* dv = a.dv + (b * a.Nk + j) * a.dv_rs + h * hd;
          for (int64_t c = 0; c < hd; c++) {
            dv[c] += pij * dout[c];
            dk[c] += ds * q[c];
            dq[c] += ds * k[c];
          }
        }
      }
    }
  });
}

}  // namespace vj::cpu
