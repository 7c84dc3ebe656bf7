// GEMM on cuBLAS. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so cuBLAS
// gets (B, A) swapped with m = N, n = M and each operand's own leading dimension; strides of 0
// broadcast one matrix to the whole batch. The forward layers' GEMMs (bias, no GELU) go to
// cuBLASLt, which fuses the bias and the bf16 rounding (gemm_lt.cu); otherwise the bias / GELU
// epilogue is a separate kernel, which also rounds the outputs to bf16 when asked (C16, pre16).
// fp32 GEMMs run without TF32 unless asked (cublas_dyn.h), for parity with the CPU.
#include <algorithm>
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
  const uint16_t* bias16;  // a bf16 C's bias, rounded already (backend.h)
  bool gelu;
  bool any() const { return bias || bias16 || gelu || C16; }
};

__device__ __forceinline__ float round_bf16(float v) { return from_bf16(to_bf16(v)); }

// One output element: C += bias[n]; with gelu: pre = C, C = gelu(C); each result rounded into
// its bf16 twin if given. A bf16 C sees the bias rounded and takes the GELU of the rounded
// pre-activation (backend.h).
struct EpiOut {
  float v, pre;
};
__device__ __forceinline__ EpiOut epi_value(float v, const Epilogue& e, int64_t n) {
  if (e.bias16) v += from_bf16(e.bias16[n]);
  else if (e.bias) v += e.C16 ? round_bf16(e.bias[n]) : e.bias[n];
  const float pre = v;
  if (e.gelu) v = gelu_exact(e.C16 ? round_bf16(v) : v);
  return {v, pre};
}

// C16 = gelu(P16) row by row (ldc apart), both bf16: the second half of a bf16 fc1 whose GEMM
// (cuBLASLt, bias in its epilogue) wrote the rounded pre-activation P16. VEC = 8 when both are
// 16-byte aligned and N, ldc are multiples of 8.
template <int VEC>
__global__ void gelu_rows_bf16_kernel(const uint16_t* __restrict__ P16, uint16_t* __restrict__ C16, int64_t rows,
                                      int64_t N, int64_t ldc) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    for (int64_t n = (int64_t)threadIdx.x * VEC; n < N; n += (int64_t)blockDim.x * VEC) {
      const int64_t off = r * ldc + n;
      if constexpr (VEC == 8) {
        uint4 p = *reinterpret_cast<const uint4*>(P16 + off);
        uint32_t w[4] = {p.x, p.y, p.z, p.w};
#pragma unroll
        for (int k = 0; k < 4; k++)
          w[k] = to_bf16(gelu_exact(from_bf16((uint16_t)(w[k] & 0xffffu)))) |
                 (uint32_t)to_bf16(gelu_exact(from_bf16((uint16_t)(w[k] >> 16)))) << 16;
        *reinterpret_cast<uint4*>(C16 + off) = make_uint4(w[0], w[1], w[2], w[3]);
      } else {
        C16[off] = to_bf16(gelu_exact(from_bf16(P16[off])));
      }
    }
  }
}
__device__ __forceinline__ void epi_store(float* C, const Epilogue& e, int64_t off, EpiOut o) {
  if (e.gelu) {
    if (e.pre16) e.pre16[off] = to_bf16(o.pre);
    else if (e.pre) e.pre[off] = o.pre;
  }
  if (e.C16) e.C16[off] = to_bf16(o.v);
  else C[off] = o.v;
}

// A block per row of the batch x M rows (grid-stride), its threads along the row: the row's
// offset costs one division per row instead of three 64-bit divisions per element, which made
// this memory-bound pass compute-bound (1.2 ms on a 50176 x 4096 fc1 output, an H200). VEC = 4
// when every operand is 16-byte aligned (8 for bf16) and N, ldc, stride_c are multiples of 4.
template <int VEC>
__global__ void epilogue_kernel(float* C, Epilogue e, int64_t rows, int64_t M, int64_t N, int64_t ldc,
                                int64_t stride_c) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = (r / M) * stride_c + (r % M) * ldc;
    for (int64_t n = (int64_t)threadIdx.x * VEC; n < N; n += (int64_t)blockDim.x * VEC) {
      const int64_t off = base + n;
      if constexpr (VEC == 4) {
        const float4 c = *reinterpret_cast<const float4*>(C + off);
        const float in[4] = {c.x, c.y, c.z, c.w};
        EpiOut o[4];
#pragma unroll
        for (int k = 0; k < 4; k++) o[k] = epi_value(in[k], e, n + k);
        if (e.gelu && e.pre16)
          *reinterpret_cast<uint2*>(e.pre16 + off) =
              make_uint2(to_bf16(o[0].pre) | (uint32_t)to_bf16(o[1].pre) << 16,
                         to_bf16(o[2].pre) | (uint32_t)to_bf16(o[3].pre) << 16);
        else if (e.gelu && e.pre)
          *reinterpret_cast<float4*>(e.pre + off) = make_float4(o[0].pre, o[1].pre, o[2].pre, o[3].pre);
        if (e.C16)
          *reinterpret_cast<uint2*>(e.C16 + off) = make_uint2(to_bf16(o[0].v) | (uint32_t)to_bf16(o[1].v) << 16,
                                                              to_bf16(o[2].v) | (uint32_t)to_bf16(o[3].v) << 16);
        else
          *reinterpret_cast<float4*>(C + off) = make_float4(o[0].v, o[1].v, o[2].v, o[3].v);
      } else {
        epi_store(C, e, off, epi_value(C[off], e, n));
      }
    }
  }
}

bool aligned(const void* p, uintptr_t bytes) { return !p || reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// The launch of the row kernels above: a block per row (grid-stride), threads enough for one pass
// over a row of N elements taken `per` at a time (a multiple of 32, at most 256).
struct RowLaunch {
  unsigned blocks;
  int threads;
};
RowLaunch row_launch(int64_t rows, int64_t N, int per) {
  return {grid_for(rows, 1, 1 << 20), (int)std::min<int64_t>(256, std::max<int64_t>(32, (N / per + 31) / 32 * 32))};
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
  const int64_t rows = d.batch * d.M;
  const bool vec = d.N % 4 == 0 && d.ldc % 4 == 0 && (d.batch == 1 || d.stride_c % 4 == 0) && aligned(C, 16) &&
                   aligned(e.pre, 16) && aligned(e.C16, 8) && aligned(e.pre16, 8);
  const RowLaunch l = row_launch(rows, d.N, vec ? 4 : 1);
  if (vec) epilogue_kernel<4><<<l.blocks, l.threads, 0, stream()>>>(C, e, rows, d.M, d.N, d.ldc, d.stride_c);
  else epilogue_kernel<1><<<l.blocks, l.threads, 0, stream()>>>(C, e, rows, d.M, d.N, d.ldc, d.stride_c);
  check_launch(op);
}

template <class In>
Epilogue epilogue_of(const GemmArgsT<In>& g) {
  return Epilogue{g.gelu ? g.pre : nullptr, g.C16, g.gelu ? g.pre16 : nullptr, g.bias, g.bias16, g.gelu};
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

// One GEMM on cuBLASLt into C or C16, the bias in its epilogue; false if Lt does not take it. A
// bf16 output's bias must come in bf16: an fp32 one is to be rounded first (backend.h), which Lt
// would not do, so such calls stay on the cuBLAS path.
template <class In>
bool lt_product(const GemmArgsT<In>& g, cudaDataType_t in_type, float* C, uint16_t* C16) {
  if (g.batch != 1 || g.beta != 0.f || g.K <= 0 || g.alpha == 0.f || (C16 && g.bias)) return false;
  LtCall c;
  c.ta = g.trans_a, c.tb = g.trans_b;
  c.M = g.M, c.N = g.N, c.K = g.K, c.lda = g.lda, c.ldb = g.ldb, c.ldc = g.ldc;
  c.A = g.A, c.B = g.B, c.in_type = in_type;
  c.C = C, c.C16 = C16, c.bias = g.bias, c.bias16 = g.bias16, c.alpha = g.alpha, c.R = g.R;
  if (!gemm_lt(c)) return false;
  count_launch();  // the cuBLAS paths count theirs in check_launch
  return true;
}

// The cuBLASLt path for the calls it computes exactly as ours (see gemm_lt.cu); false if not taken.
// fc1 under bf16 (GELU, a bf16 C, no fp32 pre): Lt writes the rounded pre-activation (into pre16,
// or a scratch), then gelu_rows_bf16_kernel reads it: half the bytes of an fp32 product.
template <class In>
bool try_lt(const GemmArgsT<In>& g, cudaDataType_t in_type) {
  if (!g.gelu) return (g.bias || g.bias16 || g.C16 || g.R) && lt_product(g, in_type, g.C, g.C16);
  if (!g.C16 || g.pre) return false;
  std::optional<Scratch> ws;
  uint16_t* P16 = g.pre16;
  if (!P16) {
    ws.emplace(sizeof(uint16_t) * (size_t)((g.M - 1) * g.ldc + g.N));
    P16 = ws->as<uint16_t>();
  }
  if (!lt_product(g, in_type, nullptr, P16)) return false;
  const bool vec = g.N % 8 == 0 && g.ldc % 8 == 0 && aligned(P16, 16) && aligned(g.C16, 16);
  const RowLaunch l = row_launch(g.M, g.N, vec ? 8 : 1);
  if (vec) gelu_rows_bf16_kernel<8><<<l.blocks, l.threads, 0, stream()>>>(P16, g.C16, g.M, g.N, g.ldc);
  else gelu_rows_bf16_kernel<1><<<l.blocks, l.threads, 0, stream()>>>(P16, g.C16, g.M, g.N, g.ldc);
  check_launch("gemmGelu (bf16 GELU)");
  return true;
}

// C itself, or (C16 without C) a scratch fp32 product for the epilogue to round.
template <class In>
float* product_buffer(const GemmArgsT<In>& g, std::optional<Scratch>& ws) {
  if (g.C) return g.C;
  ws.emplace(sizeof(float) * (size_t)((g.batch - 1) * g.stride_c + (g.M - 1) * g.ldc + g.N));
  return ws->as<float>();
}

// The residual copied into C on the stream, for the paths that cannot read it as Lt does.
template <class In>
GemmArgsT<In> residual_copied(const GemmArgsT<In>& g) {
  return residual_into_c(g, [](float* d, const float* s, size_t n) {
    check(cudaMemcpyAsync(d, s, n * sizeof(float), cudaMemcpyDeviceToDevice, stream()), "gemm residual (cudaMemcpyAsync)");
  });
}

}  // namespace

void gemm(const GemmArgs& g) {
  const char* op = "gemm";
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  Dims d{g.batch, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.stride_a, g.stride_b, g.stride_c, g.trans_a, g.trans_b};
  check_dims(op, d);
  if (try_lt(g, CUDA_R_32F)) return;
  if (g.R) return gemm(residual_copied(g));
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
  if (g.R) return gemm_bf16(residual_copied(g));
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
