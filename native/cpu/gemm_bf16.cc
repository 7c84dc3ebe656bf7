// bf16 GEMM on CPUs without AVX512-BF16 (and with setIsa below 'avx512bf16'): widen op(A) and
// op(B) to fp32 once, then the fp32 driver. Every bf16 value is exact in fp32, so this is the
// product cuBLAS computes with CUBLAS_COMPUTE_32F (up to summation order), bit for bit the fp32
// GEMM's on the widened values. Widening costs O(MK + KN) against the O(MNK) product, so it runs
// at fp32 speed; gemm_avx512bf16.cc runs the bf16 dot product instead where the CPU has it.
#include "cpu/gemm_kernels.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace vj::cpu {

namespace {
thread_local ScratchFloats t_a, t_b;

// Elements spanned by a (batch of) rows x cols matrices with leading dim ld and batch stride.
size_t span(int64_t batch, int64_t rows, int64_t cols, int64_t ld, int64_t stride) {
  if (rows <= 0 || cols <= 0) return 0;
  size_t one = (size_t)((rows - 1) * ld + cols);
  return stride > 0 ? (size_t)((batch - 1) * stride) + one : one;
}

const float* widen(ScratchFloats& buf, const uint16_t* x, size_t n) {
  float* y = buf.reserve(n, "gemm_bf16", "bf16 operands widened to fp32");
  bf16_to_f32(x, y, (int64_t)n);  // the gaps between rows are widened too: harmless, never read
  return y;
}
}  // namespace

void gemm_bf16_widened(const GemmBf16Args& g, const Narrow* nw) {
  const float* A = widen(t_a, g.A, span(g.batch, g.trans_a ? g.K : g.M, g.trans_a ? g.M : g.K, g.lda, g.stride_a));
  const float* B = widen(t_b, g.B, span(g.batch, g.trans_b ? g.N : g.K, g.trans_b ? g.K : g.N, g.ldb, g.stride_b));
  gemm_fp32_product(g.with_operands(A, B), nw);
}

}  // namespace vj::cpu
