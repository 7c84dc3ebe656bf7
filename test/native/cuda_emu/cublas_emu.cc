// A stand-in libcublas for the emulated CUDA build: the symbols native/cuda/cublas_dyn.cu opens,
// with cuBLAS's column-major semantics (C = alpha op(A) op(B) + beta C; beta = 0 does not read
// C), accumulating in double. The emulated addon finds it through VJEPA_CUBLAS. It also stands
// in for cuBLASLt (which the real libcublas links): descriptors, a heuristic that accepts what
// the real one documents for our calls, and cublasLtMatmul with the DEFAULT / BIAS epilogues.
#include <cmath>
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

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
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

// cuBLASLt state: what our calls set (cublasLt.h attribute numbers).
struct LtDesc {
  int compute, scale;
  int32_t transa = 0, transb = 0, bias_type = -1;
  uint32_t epilogue = 1;
  const void* bias = nullptr;
};
struct LtLayout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
  int32_t batch = 1;
};
struct LtPref {
  uint64_t workspace = 0;
};

template <class T>
int put(T& field, const void* buf, size_t size) {
  if (!buf || size != sizeof(T)) return 7;  // INVALID_VALUE, as the real library checks sizes
  std::memcpy(&field, buf, sizeof(T));
  return 0;
}

float element(const LtLayout* l, const void* p, long long i) {
  return l->type == CUDA_R_16BF ? bf16_to_float(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
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

#define LT_API __attribute__((visibility("default")))

LT_API int cublasLtCreate(void** h) {
  static int dummy;
  *h = &dummy;
  return 0;
}
LT_API int cublasLtMatmulDescCreate(LtDesc** d, int compute, int scale) {
  *d = new LtDesc{compute, scale};
  return 0;
}
LT_API int cublasLtMatmulDescDestroy(LtDesc* d) {
  delete d;
  return 0;
}
LT_API int cublasLtMatmulDescSetAttribute(LtDesc* d, int attr, const void* buf, size_t size) {
  switch (attr) {
    case 3: return put(d->transa, buf, size);
    case 4: return put(d->transb, buf, size);
    case 7: return put(d->epilogue, buf, size);
    case 8: return put(d->bias, buf, size);
    case 26: return put(d->bias_type, buf, size);
    default: return 7;
  }
}
LT_API int cublasLtMatrixLayoutCreate(LtLayout** l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  *l = new LtLayout{type, rows, cols, ld};
  return 0;
}
LT_API int cublasLtMatrixLayoutDestroy(LtLayout* l) {
  delete l;
  return 0;
}
LT_API int cublasLtMatrixLayoutSetAttribute(LtLayout* l, int attr, const void* buf, size_t size) {
  return attr == 5 ? put(l->batch, buf, size) : 7;
}
LT_API int cublasLtMatmulPreferenceCreate(LtPref** p) {
  *p = new LtPref{};
  return 0;
}
LT_API int cublasLtMatmulPreferenceDestroy(LtPref* p) {
  delete p;
  return 0;
}
LT_API int cublasLtMatmulPreferenceSetAttribute(LtPref* p, int attr, const void* buf, size_t size) {
  if (attr == 1) return put(p->workspace, buf, size);
  uint32_t align;
  return attr >= 5 && attr <= 8 ? put(align, buf, size) : 7;
}
// One "algorithm" for fp32 or bf16 operands of one type, an fp32 or bf16 output (C's layout is
// D's) and a bias of the output's type; anything else is NOT_SUPPORTED, which sends our code to its
// cuBLAS path. beta 0, or 1 with an fp32 C (a residual), possibly at another address than D.
// (The real Lt, cuBLAS 13 on an H200, had no algorithm for a bf16 output with an fp32 bias.)
LT_API int cublasLtMatmulAlgoGetHeuristic(void*, LtDesc* d, LtLayout* a, LtLayout* b, LtLayout* c, LtLayout* dl,
                                          LtPref*, int requested, void* results, int* count) {
  *count = 0;
  bool in_ok = a->type == b->type && (a->type == CUDA_R_32F || a->type == CUDA_R_16BF);
  bool out_ok = c == dl && (dl->type == CUDA_R_32F || dl->type == CUDA_R_16BF);
  bool epi_ok = d->epilogue == 1 || (d->epilogue == 4 && d->bias_type == (int)dl->type);
  if (!in_ok || !out_ok || !epi_ok || d->compute != 68 || requested < 1) return 15;
  unsigned char* r = static_cast<unsigned char*>(results);
  std::memset(r, 0, 64 + sizeof(size_t) + 4 + 4 + 16);  // cublasLtMatmulHeuristicResult_t: state 0, workspace 0
  *count = 1;
  return 0;
}
LT_API int cublasLtMatmul(void*, LtDesc* d, const void* alpha, const void* A, LtLayout* al, const void* B,
                          LtLayout* bl, const void* beta, const void* C, LtLayout*, void* D, LtLayout* dl, const void*,
                          void*, size_t, void*) {
  const float be = *static_cast<const float*>(beta);
  if (be != 0.f && (be != 1.f || dl->type != CUDA_R_32F)) return 15;  // our calls add a residual or nothing
  const long long m = (long long)dl->rows, n = (long long)dl->cols;
  const long long k = d->transa ? (long long)al->rows : (long long)al->cols;
  const float al0 = *static_cast<const float*>(alpha);
  for (long long j = 0; j < n; j++)
    for (long long i = 0; i < m; i++) {
      double s = 0;
      for (long long p = 0; p < k; p++) {
        double a = d->transa ? element(al, A, i * al->ld + p) : element(al, A, p * al->ld + i);
        double bv = d->transb ? element(bl, B, p * bl->ld + j) : element(bl, B, j * bl->ld + p);
        s += a * bv;
      }
      float v = (float)(al0 * s);  // the fp32 accumulator, then the epilogue in fp32
      if (be != 0.f) v += static_cast<const float*>(C)[i + j * dl->ld];
      if (d->epilogue == 4)
        v += d->bias_type == CUDA_R_16BF ? bf16_to_float(static_cast<const uint16_t*>(d->bias)[i])
                                         : static_cast<const float*>(d->bias)[i];
      if (dl->type == CUDA_R_16BF) static_cast<uint16_t*>(D)[i + j * dl->ld] = float_to_bf16(v);
      else static_cast<float*>(D)[i + j * dl->ld] = v;
    }
  return 0;
}

}  // extern "C"
