// The few cuBLAS entry points the CUDA backend uses, opened with dlopen on first use, so that
// no cuBLAS header or library is needed at build time and the addon loads where cuBLAS is
// missing. Types and enum values are those documented for cublas_api.h (cuBLAS 11-13).
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>

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

// cuBLASLt, resolved through the cuBLAS library (libcublas links libcublasLt, and dlsym searches
// a library's dependencies; the emulator's stand-in defines both). Optional: when a symbol is
// missing, or VJEPA_CUDA_NO_LT=1, lt() is null and every GEMM takes the cuBLAS path.
// Values are cublasLt.h's (cuBLAS 12-13).
typedef struct cublasLtContext* LtHandle;
typedef void* LtDesc;    // cublasLtMatmulDesc_t
typedef void* LtLayout;  // cublasLtMatrixLayout_t
typedef void* LtPref;    // cublasLtMatmulPreference_t
struct LtAlgo {
  uint64_t data[8];
};
struct LtHeuristic {  // cublasLtMatmulHeuristicResult_t
  LtAlgo algo;
  size_t workspace_size;
  Status state;
  float waves;
  int reserved[4];
};
enum LtDescAttr : int { kLtTransA = 3, kLtTransB = 4, kLtEpilogue = 7, kLtBiasPointer = 8, kLtBiasDataType = 26 };
enum LtLayoutAttr : int { kLtBatchCount = 5, kLtBatchStride = 6 };
enum LtPrefAttr : int { kLtMaxWorkspace = 1, kLtAlignA = 5, kLtAlignB = 6, kLtAlignC = 7, kLtAlignD = 8 };
enum LtEpilogue : uint32_t { kLtEpilogueDefault = 1, kLtEpilogueBias = 4 };

struct LtApi {
  Status (*create)(LtHandle*);
  Status (*desc_create)(LtDesc*, int compute, cudaDataType_t scale_type);
  Status (*desc_destroy)(LtDesc);
  Status (*desc_set)(LtDesc, int attr, const void* buf, size_t size);
  Status (*layout_create)(LtLayout*, cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld);
  Status (*layout_destroy)(LtLayout);
  Status (*layout_set)(LtLayout, int attr, const void* buf, size_t size);
  Status (*pref_create)(LtPref*);
  Status (*pref_destroy)(LtPref);
  Status (*pref_set)(LtPref, int attr, const void* buf, size_t size);
  Status (*heuristic)(LtHandle, LtDesc, LtLayout a, LtLayout b, LtLayout c, LtLayout d, LtPref, int requested,
                      LtHeuristic* results, int* count);
  Status (*matmul)(LtHandle, LtDesc, const void* alpha, const void* A, LtLayout, const void* B, LtLayout,
                   const void* beta, const void* C, LtLayout, void* D, LtLayout, const LtAlgo* algo, void* workspace,
                   size_t workspace_size, cudaStream_t stream);
};

// The loaded API; throws vj::Error "cuBLAS could not be loaded (tried ...): <dlerror>" on failure.
const Api& api();
// The Lt API, or null (see above). Loads cuBLAS first, so it throws as api() does.
const LtApi* lt();
// The Lt handle of the current device (created on first use).
LtHandle lt_handle();
// The handle of the current device, bound to the backend's stream (created on first use).
Handle handle();
// "cublasSgemmStridedBatched: CUBLAS_STATUS_... (n)" style message.
void check(Status s, const char* what);
// TF32 tensor-op math for fp32 GEMMs: off by default (fp32 parity with the CPU); VJEPA_CUDA_TF32=1 turns it on.
bool tf32();

}  // namespace vj::cuda::blas
