// CUDA-only entry points that are not (yet) in the Backend table: the bf16 GEMM for mixed
// precision, allocator control and the TF32 switch. Host-only declarations, safe to include
// from .cc files of an addon built with VJEPA_WITH_CUDA.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vj {

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias[n]), with A and B in bfloat16
// (stored as uint16), C, bias and the accumulation in fp32 (cuBLAS CUBLAS_COMPUTE_32F).
// Same row-major conventions and strides as GemmArgs.
struct GemmBf16Args {
  bool trans_a = false, trans_b = false;
  int64_t batch = 1, M = 0, N = 0, K = 0;
  const uint16_t* A = nullptr;
  int64_t lda = 0, stride_a = 0;
  const uint16_t* B = nullptr;
  int64_t ldb = 0, stride_b = 0;
  float* C = nullptr;
  int64_t ldc = 0, stride_c = 0;
  float alpha = 1.f, beta = 0.f;
  const float* bias = nullptr;
  bool gelu = false;
  float* pre = nullptr;
};
void gemm_bf16(const GemmBf16Args& a);

// Releases the caching allocator's free blocks back to the driver (synchronises the device).
void cuda_empty_cache();
struct CudaCacheStats {
  size_t reserved_bytes = 0;  // held from cudaMalloc, in use or cached
  size_t cached_bytes = 0;    // free, kept for reuse
};
CudaCacheStats cuda_cache_stats(int device_index);

// TF32 tensor cores for the fp32 GEMMs (off by default; VJEPA_CUDA_TF32=1 also turns it on).
void cuda_set_tf32(bool on);

}  // namespace vj
