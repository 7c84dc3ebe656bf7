// One forward-layer GEMM for cuBLASLt (gemm_lt.cu): D = alpha op(A) op(B) + bias (+ R), row-major
// as in GemmArgs, written to C (fp32) or C16 (bf16, rounded once).
#pragma once
#include <library_types.h>

#include <cstdint>

namespace vj::cuda {

struct LtCall {
  bool ta = false, tb = false;
  int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
  const void* A = nullptr;
  const void* B = nullptr;
  cudaDataType_t in_type = CUDA_R_32F;  // of A and B: CUDA_R_32F or CUDA_R_16BF
  float* C = nullptr;
  uint16_t* C16 = nullptr;
  const float* bias = nullptr;      // [N] or null
  const uint16_t* bias16 = nullptr;  // [N] bf16, instead of bias (with C16)
  float alpha = 1.f;
  const float* R = nullptr;  // a residual in C's layout (fp32 C): read as Lt's C with beta 1
};

// Runs the call on cuBLASLt and returns true, or returns false (nothing done) when Lt is not
// available or has no algorithm for it.
bool gemm_lt(const LtCall& c);

}  // namespace vj::cuda
