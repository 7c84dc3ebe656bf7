// A stand-in libcublas for the emulated CUDA build: the symbols native/cuda/cublas_dyn.cu opens,
// with cuBLAS's column-major semantics (C = alpha op(A) op(B) + beta C; beta = 0 does not read
// C), accumulating in double. The emulated addon finds it through VJEPA_CUBLAS.
#include <cstdint>
#include <cstring>

#include "include/library_types.h"

namespace {

float bf16_to_float(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <class LA, class LB>
int gemm(int ta, int tb, int m, int n, int k, float alpha, LA A, int lda, long long sa, LB B, int ldb, long long sb,
         float beta, float* C, int ldc, long long sc, int batch) {
  for (int b = 0; b < batch; b++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          double a = ta ? A(b * sa + i * (long long)lda + p) : A(b * sa + p * (long long)lda + i);
          double bv = tb ? B(b * sb + p * (long long)ldb + j) : B(b * sb + j * (long long)ldb + p);
          s += a * bv;
        }
        float& c = C[b * sc + j * (long long)ldc + i];
        c = (float)(alpha * s + (beta != 0.f ? (double)beta * c : 0.0));
      }
  return 0;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int cublasCreate_v2(void** h) {
  static int dummy;
  *h = &dummy;
  return 0;
}
__attribute__((visibility("default"))) int cublasDestroy_v2(void*) { return 0; }
__attribute__((visibility("default"))) int cublasSetStream_v2(void*, void*) { return 0; }
__attribute__((visibility("default"))) int cublasSetMathMode(void*, int) { return 0; }
__attribute__((visibility("default"))) const char* cublasGetStatusString(int s) {
  return s == 0 ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_NOT_SUPPORTED";
}

__attribute__((visibility("default"))) int cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k,
                                                                     const float* alpha, const float* A, int lda,
                                                                     long long sa, const float* B, int ldb, long long sb,
                                                                     const float* beta, float* C, int ldc,
                                                                     long long sc, int batch) {
  auto a = [A](long long i) { return A[i]; };
  auto b = [B](long long i) { return B[i]; };
  return gemm(ta, tb, m, n, k, *alpha, a, lda, sa, b, ldb, sb, *beta, C, ldc, sc, batch);
}

__attribute__((visibility("default"))) int cublasGemmStridedBatchedEx(void*, int ta, int tb, int m, int n, int k,
                                                                      const void* alpha, const void* A, cudaDataType_t at,
                                                                      int lda, long long sa, const void* B,
                                                                      cudaDataType_t bt, int ldb, long long sb,
                                                                      const void* beta, void* C, cudaDataType_t ct,
                                                                      int ldc, long long sc, int batch, int compute,
                                                                      int algo) {
  if (at != CUDA_R_16BF || bt != CUDA_R_16BF || ct != CUDA_R_32F || compute != 68) return 15;  // NOT_SUPPORTED
  const uint16_t* a16 = static_cast<const uint16_t*>(A);
  const uint16_t* b16 = static_cast<const uint16_t*>(B);
  auto a = [a16](long long i) { return bf16_to_float(a16[i]); };
  auto b = [b16](long long i) { return bf16_to_float(b16[i]); };
  return gemm(ta, tb, m, n, k, *static_cast<const float*>(alpha), a, lda, sa, b, ldb, sb,
              *static_cast<const float*>(beta), static_cast<float*>(C), ldc, sc, batch);
}

}  // extern "C"
