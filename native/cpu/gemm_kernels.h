// Internal interface of the CPU GEMM: the ISA-specific drivers (gemm_avx512.cc, gemm_avx2.cc,
// gemm_portable.cc) and the services they take from gemm.cc. The ISA files include no STL
// headers, so no inline library code compiled with AVX flags can be picked by the linker for
// baseline callers; threads and memory come through these plain functions instead.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend.h"

namespace vj::cpu {

// bf16 outputs rounded by the epilogue of the last K block, in C's layout (gemm.cc's
// gemm_narrowed, whose rounding passes the AVX-512 kernels fuse): c16 takes the output, pre16 the
// pre-activation; with round_pre the GELU reads the pre-activation rounded to bf16 (autocast's).
struct Narrow {
  uint16_t* c16 = nullptr;
  uint16_t* pre16 = nullptr;
  bool round_pre = false;
};

void gemm_portable(const GemmArgs& g);
#if defined(__x86_64__)
void gemm_avx2(const GemmArgs& g);
void gemm_avx512(const GemmArgs& g, const Narrow* nw = nullptr);
#endif
#if defined(VJ_HAVE_AVX512BF16)
void gemm_avx512bf16(const GemmBf16Args& g, const Narrow* nw = nullptr);
#endif
// The product alone for the active ISA (K > 0, alpha != 0, fp32 C, no residual): gemm.cc's.
// nw only where the ISA is AVX-512.
void gemm_fp32_product(const GemmArgs& g, const Narrow* nw = nullptr);
// bf16 operands widened to fp32, then gemm_fp32_product (gemm_bf16.cc): CPUs without vdpbf16ps.
void gemm_bf16_widened(const GemmBf16Args& g, const Narrow* nw = nullptr);

// 64-byte aligned scratch of at least `floats` floats, owned by the calling thread and reused.
float* gemm_workspace(size_t floats);
int gemm_threads();
// fn(ctx, tid, nt) on every pool thread (nt may be smaller than gemm_threads() when the pool is busy).
void gemm_parallel(void (*fn)(void* ctx, int tid, int nt), void* ctx);

}  // namespace vj::cpu
