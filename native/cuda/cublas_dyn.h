// The few cuBLAS entry points the CUDA backend uses, opened with dlopen on first use, so that
// no cuBLAS header or library is needed at build time and the addon loads where cuBLAS is
// missing. Types and enum values are those documented for cublas_api.h (cuBLAS 11-13).
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

namespace vj::cuda::blas {

typedef struct cublasContext* Handle;
typedef int Status;  // cublasStatus_t: 0 = CUBLAS_STATUS_SUCCESS
enum Op : int { kOpN = 0, kOpT = 1 };  // cublasOperation_t
enum Math : int { kDefaultMath = 0, kPedanticMath = 2, kTf32TensorOpMath = 3 };  // cublasMath_t
enum Compute : int { kCompute32F = 68, kCompute32FPedantic = 69, kCompute32FFastTf32 = 77 };  // cublasComputeType_t
enum Algo : int { kGemmDefault = -1 };  // cublasGemmAlgo_t

struct Api {
  Status (*create)(Handle*);
  Status (*destroy)(Handle);
  Status (*set_stream)(Handle, cudaStream_t);
  Status (*set_math_mode)(Handle, int);
  Status (*sgemm_strided_batched)(Handle, int transa, int transb, int m, int n, int k, const float* alpha,
                                  const float* A, int lda, long long stride_a, const float* B, int ldb,
                                  long long stride_b, const float* beta, float* C, int ldc, long long stride_c,
                                  int batch);
  Status (*gemm_strided_batched_ex)(Handle, int transa, int transb, int m, int n, int k, const void* alpha,
                                    const void* A, cudaDataType_t a_type, int lda, long long stride_a, const void* B,
                                    cudaDataType_t b_type, int ldb, long long stride_b, const void* beta, void* C,
                                    cudaDataType_t c_type, int ldc, long long stride_c, int batch, int compute,
                                    int algo);
  const char* (*status_string)(Status);  // may be null (older cuBLAS)
};

// The loaded API; throws vj::Error "cuBLAS could not be loaded (tried ...): <dlerror>" on failure.
const Api& api();
// The handle of the current device, bound to the backend's stream (created on first use).
Handle handle();
// "cublasSgemmStridedBatched: CUBLAS_STATUS_... (n)" style message.
void check(Status s, const char* what);
// TF32 tensor-op math for fp32 GEMMs: off by default (fp32 parity with the CPU); VJEPA_CUDA_TF32=1 turns it on.
void set_tf32(bool on);
bool tf32();

}  // namespace vj::cuda::blas
