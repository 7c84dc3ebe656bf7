// CPU GEMM entry, fp32 and bf16 operands: residuals, bf16 outputs and trivial cases here, then
// the packed driver for the active ISA (gemm_avx512.cc, gemm_avx512bf16.cc, gemm_avx2.cc,
// gemm_portable.cc; blocking in gemm_driver.h) or, for bf16 operands on CPUs without the bf16 dot
// product, the fp32 driver on widened copies (gemm_bf16.cc).
// This file also provides the ISA files with threads and scratch memory (see gemm_kernels.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "cpu/bf16.h"
#include "cpu/cpuid.h"
#include "cpu/gemm_kernels.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"
#include "cpu/threadpool.h"

namespace vj::cpu {

namespace {
thread_local ScratchFloats t_scratch;

inline float gelu_exact(float x) { return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f)); }

// alpha == 0 or K == 0: C = beta*C + bias (A and B are not read).
template <class In>
void gemm_no_product(const GemmArgsT<In>& g) {
  for (int64_t b = 0; b < g.batch; b++) {
    float* C = g.C + b * g.stride_c;
    float* P = g.pre ? g.pre + b * g.stride_c : nullptr;
    for (int64_t m = 0; m < g.M; m++)
      for (int64_t n = 0; n < g.N; n++) {
        float v = g.beta != 0.f ? g.beta * C[m * g.ldc + n] : 0.f;
        if (g.bias) v += g.bias[n];
        if (g.gelu) {
          if (P) P[m * g.ldc + n] = v;
          v = gelu_exact(v);
        }
        C[m * g.ldc + n] = v;
      }
  }
}
// Rounds the batch x M x N results (C's layout) from src into dst.
template <class In>
void narrow_rows(const GemmArgsT<In>& g, const float* src, uint16_t* dst) {
  parallel_for(g.batch * g.M, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t off = (r / g.M) * g.stride_c + (r % g.M) * g.ldc;
      for (int64_t n = 0; n < g.N; n++) dst[off + n] = to_bf16(src[off + n]);
    }
  });
}
// Whether product() takes a Narrow: the AVX-512 kernels round bf16 outputs in their epilogue.
bool fuses_narrow() {
#if defined(__x86_64__)
  return isa() >= Isa::Avx512;
#else
  return false;
#endif
}

// The product alone (K > 0, alpha != 0, fp32 C, no residual), by operand type; nw only where
// fuses_narrow().
void product(const GemmArgs& g, const Narrow* nw = nullptr) {
  switch (isa()) {
#if defined(__x86_64__)
    case Isa::Avx512Bf16:
    case Isa::Avx512: return gemm_avx512(g, nw);
    case Isa::Avx2: return gemm_avx2(g);
#endif
    default: return gemm_portable(g);
  }
}
void product(const GemmBf16Args& g, const Narrow* nw = nullptr) {
#if defined(VJ_HAVE_AVX512BF16)
  if (isa() == Isa::Avx512Bf16) return gemm_avx512bf16(g, nw);
#endif
  gemm_bf16_widened(g, nw);
}

template <class In>
void gemm_any(const GemmArgsT<In>& g);

// bf16 outputs. With a bf16 C the bias is rounded to bf16 and the GELU reads the rounded
// pre-activation (PyTorch autocast's values, backend.h). The AVX-512 kernels round in the epilogue
// of the last K block (fp32 C is a scratch for the blocks before it); other ISAs run the fp32 GEMM
// (pre-activation into a scratch), then rounding passes, to the same bits. The CUDA epilogue
// rounds in place too.
template <class In>
void gemm_narrowed(const GemmArgsT<In>& g) {
  GemmArgsT<In> f = g;
  f.C16 = f.pre16 = nullptr;
  f.bias16 = nullptr;
  std::unique_ptr<float[]> bias;
  if (g.C16 && (g.bias || g.bias16)) {
    bias.reset(new float[g.N]);
    for (int64_t n = 0; n < g.N; n++) bias[n] = g.bias16 ? from_bf16(g.bias16[n]) : from_bf16(to_bf16(g.bias[n]));
    f.bias = bias.get();
  }
  const bool gelu_rounded = g.gelu && g.C16;  // the GELU reads the rounded pre-activation
  const size_t span = (size_t)((g.batch - 1) * g.stride_c + (g.M - 1) * g.ldc + g.N);
  // Written before it is read (the first K block stores with beta 0), so not zeroed; and freed at
  // once: with one K block the fused epilogue never touches it, so its pages are never even mapped.
  std::unique_ptr<float[]> c;
  if (!f.C) {
    c.reset(new float[span]);
    f.C = c.get();
  }
  if (g.K > 0 && g.alpha != 0.f && fuses_narrow()) {
    Narrow nw;
    nw.c16 = g.C16;
    nw.pre16 = g.gelu ? g.pre16 : nullptr;
    nw.round_pre = gelu_rounded;
    return product(f, &nw);
  }
  if (gelu_rounded) f.gelu = false, f.pre = nullptr;
  std::unique_ptr<float[]> pre;
  if (g.pre16 && g.gelu && !gelu_rounded) {
    pre.reset(new float[span]);
    f.pre = pre.get();
  }
  gemm_any(f);
  if (gelu_rounded) {
    // f.C holds the pre-activation: store it, round it, then C = gelu of the rounded values.
    if (g.pre) std::copy(f.C, f.C + span, g.pre);
    if (g.pre16) narrow_rows(g, f.C, g.pre16);
    parallel_for((int64_t)span, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) f.C[i] = from_bf16(to_bf16(f.C[i]));
    });
    gelu_fwd(f.C, f.C, (int64_t)span);
    narrow_rows(g, f.C, g.C16);
    return;
  }
  if (g.C16) narrow_rows(g, f.C, g.C16);
  if (f.pre && g.pre16) narrow_rows(g, f.pre, g.pre16);
}

template <class In>
void gemm_any(const GemmArgsT<In>& g) {
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  if (g.R) return gemm_any(residual_into_c(g, [](float* d, const float* s, size_t n) { std::memcpy(d, s, n * sizeof(float)); }));
  if (g.C16 || g.pre16) return gemm_narrowed(g);
  if (g.K <= 0 || g.alpha == 0.f) return gemm_no_product(g);
  product(g);
}
}  // namespace

float* gemm_workspace(size_t floats) { return t_scratch.reserve(floats, "gemm", "packing scratch"); }

int gemm_threads() { return num_threads(); }

void gemm_parallel(void (*fn)(void*, int, int), void* ctx) {
  parallel_run([&](int tid, int nt) { fn(ctx, tid, nt); });
}

void gemm_fp32_product(const GemmArgs& g, const Narrow* nw) { product(g, nw); }

void gemm(const GemmArgs& g) { gemm_any(g); }

void gemm_bf16(const GemmBf16Args& g) { gemm_any(g); }

}  // namespace vj::cpu
