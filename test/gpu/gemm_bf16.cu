// Standalone check of vj::gemm_bf16 (native/cuda/extras.h), which no binding exposes yet:
// bf16 A/B with fp32 accumulation against a double reference on the bf16-rounded inputs.
// Built and run by test/gpu/run.sh. Prints one table row per case; exit 1 on failure.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/extras.h"
#include "device.h"
#include "tensor.h"

namespace vj {
[[noreturn]] void fail(const std::string& msg) { throw Error(msg); }
}  // namespace vj

static uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

int main() {
  std::string why = vj::cuda_unavailable_reason();
  if (!why.empty()) {
    std::printf("CUDA unavailable: %s\n", why.c_str());
    return 0;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  int bad = 0;
  struct Case { bool ta, tb; int batch, M, N, K; bool bias; };
  for (Case c : {Case{false, false, 1, 100, 70, 300, false}, Case{false, true, 3, 64, 96, 128, true},
                 Case{true, false, 2, 33, 17, 65, false}, Case{true, true, 1, 128, 128, 256, true}}) {
    int lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
    size_t na = (size_t)c.batch * c.M * c.K, nb = (size_t)c.batch * c.K * c.N, nc = (size_t)c.batch * c.M * c.N;
    std::vector<uint16_t> A(na), B(nb);
    std::vector<float> bias(c.N), C(nc), ref(nc);
    for (auto& v : A) v = to_bf16(nd(rng));
    for (auto& v : B) v = to_bf16(nd(rng));
    for (auto& v : bias) v = nd(rng);
    for (int b = 0; b < c.batch; b++)
      for (int m = 0; m < c.M; m++)
        for (int n = 0; n < c.N; n++) {
          double s = 0;
          for (int k = 0; k < c.K; k++) {
            float a = from_bf16(A[(size_t)b * c.M * c.K + (c.ta ? (size_t)k * lda + m : (size_t)m * lda + k)]);
            float bb = from_bf16(B[(size_t)b * c.K * c.N + (c.tb ? (size_t)n * ldb + k : (size_t)k * ldb + n)]);
            s += (double)a * bb;
          }
          ref[(size_t)b * c.M * c.N + (size_t)m * c.N + n] = (float)(s + (c.bias ? bias[n] : 0.0));
        }
    void *dA = vj::cuda_alloc(na * 2, 0), *dB = vj::cuda_alloc(nb * 2, 0), *dC = vj::cuda_alloc(nc * 4, 0),
         *dbias = vj::cuda_alloc(c.N * 4, 0);
    vj::cuda_copy_h2d(dA, A.data(), na * 2, 0);
    vj::cuda_copy_h2d(dB, B.data(), nb * 2, 0);
    vj::cuda_copy_h2d(dbias, bias.data(), c.N * 4, 0);
    vj::GemmBf16Args g;
    g.trans_a = c.ta;
    g.trans_b = c.tb;
    g.batch = c.batch;
    g.M = c.M;
    g.N = c.N;
    g.K = c.K;
    g.A = (const uint16_t*)dA;
    g.lda = lda;
    g.stride_a = (int64_t)c.M * c.K;
    g.B = (const uint16_t*)dB;
    g.ldb = ldb;
    g.stride_b = (int64_t)c.K * c.N;
    g.C = (float*)dC;
    g.ldc = c.N;
    g.stride_c = (int64_t)c.M * c.N;
    g.bias = c.bias ? (const float*)dbias : nullptr;
    double err = INFINITY;
    try {
      vj::gemm_bf16(g);
      vj::cuda_copy_d2h(C.data(), dC, nc * 4, 0);
      double d = 0, mx = 0;
      for (size_t i = 0; i < nc; i++) {
        d = std::fmax(d, std::fabs((double)C[i] - ref[i]));
        mx = std::fmax(mx, std::fabs((double)ref[i]));
      }
      err = d / mx;
    } catch (const std::exception& e) {
      std::printf("gemm_bf16: %s\n", e.what());
    }
    bool ok = err <= 1e-2;
    bad += !ok;
    std::printf("gemm_bf16 ta=%d tb=%d batch=%d %dx%dx%d%s  %.2e  %s\n", c.ta, c.tb, c.batch, c.M, c.N, c.K,
                c.bias ? " +bias" : "", err, ok ? "pass" : "FAIL (tol 1e-2)");
    vj::cuda_free(dA, 0);
    vj::cuda_free(dB, 0);
    vj::cuda_free(dC, 0);
    vj::cuda_free(dbias, 0);
  }
  return bad ? 1 : 0;
}
