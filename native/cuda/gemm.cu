// GEMM on cuBLAS. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so cuBLAS
// gets (B, A) swapped with m = N, n = M and each operand's own leading dimension; strides of 0
// broadcast one matrix to the whole batch. The forward layers' GEMMs (bias, no GELU) go to
// cuBLASLt, which fuses the bias and the bf16 rounding (gemm_lt.cu); otherwise the bias / GELU
// epilogue is a separate kernel, which also rounds the outputs to bf16 when asked (C16, pre16).
// fp32 GEMMs run without TF32 unless asked (cublas_dyn.h), for parity with the CPU.
#include <climits>
#include <optional>
#include <string>

#include "cuda/common.cuh"
#include "cuda/cublas_dyn.h"
#include "cuda/gemm_lt.h"
#include "cuda/kernels.h"

namespace vj::cuda {

namespace {

__device__ __forceinline__ float gelu_exact(float v) {
  // 1 + erf(z) as erfc(-z): keeps relative accuracy in the negative tail.
  return 0.5f * v * erfcf(-v * 0.70710678118654752f);
}

// C = (beta != 0 ? beta*C : 0) + bias; used when there is no product (K == 0 or alpha == 0).
__global__ void scale_c_kernel(float* C, int64_t batch, int64_t M, int64_t N, int64_t ldc, int64_t stride_c,
                               float beta) {
  int64_t total = batch * M * N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t n = i % N, m = (i / N) % M, b = i / (N * M);
    float* c = C + b * stride_c + m * ldc + n;
    *c = beta != 0.f ? beta * *c : 0.f;
  }
}

struct Epilogue {
  float* pre;          // fp32 pre-activation out (gelu only), or null
  uint16_t* C16;       // bf16 result out instead of C, or null
  uint16_t* pre16;     // bf16 pre-activation out instead of pre, or null
  const float* bias;
  bool gelu;
  bool any() const { return bias || gelu || C16; }
};

// C += bias[n]; with gelu: pre = C, C = gelu(C); each result rounded into its bf16 twin if given.
__global__ void epilogue_kernel(float* C, Epilogue e, int64_t batch, int64_t M, int64_t N, int64_t ldc,
                                int64_t stride_c) {
  int64_t total = batch * M * N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t n = i % N, m = (i / N) % M, b = i / (N * M);
    int64_t off = b * stride_c + m * ldc + n;
    float v = C[off];
    if (e.bias) v += e.bias[n];
    if (e.gelu) {
      if (e.pre16) e.pre16[off] = to_bf16(v);
      else if (e.pre) e.pre[off] = v;
      v = gelu_exact(v);
    }
    if (e.C16) e.C16[off] = to_bf16(v);
    else C[off] = v;
  }
}

void need_int(const char* op, const char* what, int64_t v) {
  if (v < 0 || v > INT_MAX)
    fail(std::string(op) + ": " + what + " = " + std::to_string(v) + " does not fit cuBLAS's 32-bit int");
}

struct Dims {
  int64_t batch, M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c;
  bool ta, tb;
};

void check_dims(const char* op, const Dims& d) {
  need_int(op, "batch", d.batch);
  need_int(op, "M", d.M);
  need_int(op, "N", d.N);
  need_int(op, "K", d.K);
  need_int(op, "lda", d.lda);
  need_int(op, "ldb", d.ldb);
  need_int(op, "ldc", d.ldc);
}

void run_epilogue(const char* op, float* C, const Epilogue& e, const Dims& d) {
  if (!e.any()) return;
  int64_t total = d.batch * d.M * d.N;
  epilogue_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(C, e, d.batch, d.M, d.N, d.ldc, d.stride_c);
  check_launch(op);
}

template <class In>
Epilogue epilogue_of(const GemmArgsT<In>& g) {
  return Epilogue{g.gelu ? g.pre : nullptr, g.C16, g.gelu ? g.pre16 : nullptr, g.bias, g.gelu};
}

// No product: C = beta*C (+ epilogue). Returns true when handled.
bool no_product(const char* op, float* C, const Epilogue& e, float alpha, float beta, const Dims& d) {
  if (d.K > 0 && alpha != 0.f) return false;
  if (beta != 1.f) {
    int64_t total = d.batch * d.M * d.N;
    scale_c_kernel<<<grid_for(total, 256), 256, 0, stream()>>>(C, d.batch, d.M, d.N, d.ldc, d.stride_c, beta);
    check_launch(op);
  }
  run_epilogue(op, C, e, d);
  return true;
}

// The cuBLASLt path for the calls it computes exactly as ours (see gemm_lt.cu); false if not taken.
template <class In>
bool try_lt(const GemmArgsT<In>& g, cudaDataType_t in_type) {
  if (g.batch != 1 || g.beta != 0.f || g.gelu || g.K <= 0 || g.alpha == 0.f || !(g.bias || g.C16)) return false;
  LtCall c;
  c.ta = g.trans_a, c.tb = g.trans_b;
  c.M = g.M, c.N = g.N, c.K = g.K, c.lda = g.lda, c.ldb = g.ldb, c.ldc = g.ldc;
  c.A = g.A, c.B = g.B, c.in_type = in_type;
  c.C = g.C, c.C16 = g.C16, c.bias = g.bias, c.alpha = g.alpha;
  if (!gemm_lt(c)) return false;
  count_launch();  // the cuBLAS paths count theirs in check_launch
  return true;
}

// C itself, or (C16 without C) a scratch fp32 product for the epilogue to round.
template <class In>
float* product_buffer(const GemmArgsT<In>& g, std::optional<Scratch>& ws) {
  if (g.C) return g.C;
  ws.emplace(sizeof(float) * (size_t)((g.batch - 1) * g.stride_c + (g.M - 1) * g.ldc + g.N));
  return ws->as<float>();
}

}  // namespace

void gemm(const GemmArgs& g) {
  const char* op = "gemm";
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  Dims d{g.batch, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.stride_a, g.stride_b, g.stride_c, g.trans_a, g.trans_b};
  check_dims(op, d);
  if (try_lt(g, CUDA_R_32F)) return;
  std::optional<Scratch> ws;
  float* C = product_buffer(g, ws);
  if (no_product(op, C, epilogue_of(g), g.alpha, g.beta, d)) return;
  const blas::Api& api = blas::api();
  float alpha = g.alpha, beta = g.beta;
  blas::check(api.sgemm_strided_batched(blas::handle(), g.trans_b ? blas::kOpT : blas::kOpN,
                                        g.trans_a ? blas::kOpT : blas::kOpN, (int)g.N, (int)g.M, (int)g.K, &alpha,
                                        g.B, (int)g.ldb, (long long)g.stride_b, g.A, (int)g.lda, (long long)g.stride_a,
                                        &beta, C, (int)g.ldc, (long long)g.stride_c, (int)g.batch),
              "gemm (cublasSgemmStridedBatched)");
  check_launch(op);
  run_epilogue(op, C, epilogue_of(g), d);
}

void gemm_bf16(const GemmBf16Args& g) {
  const char* op = "gemm_bf16";
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  if (compute_major() < 8)
    fail("bf16 mixed precision needs an NVIDIA GPU of compute capability 8.0 or newer (Ampere, Hopper); cuda:" +
         std::to_string(current_device()) + " is " + std::to_string(compute_major()) +
         ".x: set meta.dtype: float32");
  Dims d{g.batch, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.stride_a, g.stride_b, g.stride_c, g.trans_a, g.trans_b};
  check_dims(op, d);
  if (try_lt(g, CUDA_R_16BF)) return;
  std::optional<Scratch> ws;
  float* C = product_buffer(g, ws);
  if (no_product(op, C, epilogue_of(g), g.alpha, g.beta, d)) return;
  const blas::Api& api = blas::api();
  float alpha = g.alpha, beta = g.beta;
  blas::check(api.gemm_strided_batched_ex(blas::handle(), g.trans_b ? blas::kOpT : blas::kOpN,
                                          g.trans_a ? blas::kOpT : blas::kOpN, (int)g.N, (int)g.M, (int)g.K, &alpha,
                                          g.B, CUDA_R_16BF, (int)g.ldb, (long long)g.stride_b, g.A, CUDA_R_16BF,
                                          (int)g.lda, (long long)g.stride_a, &beta, C, CUDA_R_32F, (int)g.ldc,
                                          (long long)g.stride_c, (int)g.batch, blas::kCompute32F, blas::kGemmDefault),
              "gemm_bf16 (cublasGemmStridedBatchedEx)");
  check_launch(op);
  run_epilogue(op, C, epilogue_of(g), d);
}

}  // namespace vj::cuda
