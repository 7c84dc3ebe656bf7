// One interface over both backends: a table of kernel entry points on raw pointers.
// native/cpu/ fills it for the CPU, native/cuda/ for NVIDIA GPUs. The bindings in
// native/api/ check shapes, then call backend(device).op(...). A null entry means
// "not available on this backend" and gives a clear JS error.
#pragma once
#include <cstdint>

#include "tensor.h"

namespace vj {

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias[n] broadcast over rows).
// Row-major. op(A) is MxK (A stored KxM when trans_a), op(B) is KxN (B stored NxK when trans_b).
// stride_* are element strides between batch entries (0 broadcasts one matrix to all).
// In is the operand type: float, or uint16_t holding bfloat16 (mixed precision); C, bias, pre
// and the accumulation are fp32 either way (cuBLAS CUBLAS_COMPUTE_32F on the GPU).
template <class In>
struct GemmArgsT {
  bool trans_a = false, trans_b = false;
  int64_t batch = 1, M = 0, N = 0, K = 0;
  const In* A = nullptr;
  int64_t lda = 0, stride_a = 0;
  const In* B = nullptr;
  int64_t ldb = 0, stride_b = 0;
  float* C = nullptr;
  int64_t ldc = 0, stride_c = 0;
  float alpha = 1.f, beta = 0.f;
  const float* bias = nullptr;  // [N] or null
  bool gelu = false;            // apply exact GELU after the bias (epilogue); stores pre-activation in pre if set
  float* pre = nullptr;         // [M,N] pre-activation output (ldc layout), only with gelu
  // bf16 outputs (mixed precision), in C's layout: the epilogue rounds its results into them,
  // so the next GEMM's operand and the saved pre-activation need no cast pass of their own.
  // With C16 (beta must be 0) C is null (the backend finds its own scratch where it needs one)
  // or an fp32 workspace left unspecified; with pre16 the pre-activation goes there, not to pre.
  uint16_t* C16 = nullptr;
  uint16_t* pre16 = nullptr;
  // With a bf16 C the results are PyTorch autocast's: the bias is rounded to bf16 (autocast casts
  // it with the weight; bias16 passes it rounded already, instead of bias) and the GELU reads the
  // pre-activation rounded to bf16 (fc1's bf16 output is its input there). Then cuBLASLt writes
  // the bf16 pre-activation with the bias in its epilogue and no fp32 product goes to memory.
  const uint16_t* bias16 = nullptr;
  // A residual in C's layout (fp32 C, beta 0, no GELU): C = alpha op(A) op(B) + bias + R, the
  // transformer block's x + proj(...) in the GEMM. R may be C itself. cuBLASLt reads it as its C
  // and writes D = C: the add costs no pass of its own; other paths copy it into C first
  // (residual_into_c).
  const float* R = nullptr;

  // The same product over other operands of the same layout (the CPU's widened bf16 copies).
  template <class To>
  GemmArgsT<To> with_operands(const To* a, const To* b) const {
    GemmArgsT<To> g;
    g.trans_a = trans_a, g.trans_b = trans_b;
    g.batch = batch, g.M = M, g.N = N, g.K = K;
    g.A = a, g.lda = lda, g.stride_a = stride_a;
    g.B = b, g.ldb = ldb, g.stride_b = stride_b;
    g.C = C, g.ldc = ldc, g.stride_c = stride_c;
    g.alpha = alpha, g.beta = beta, g.bias = bias, g.gelu = gelu, g.pre = pre;
    g.C16 = C16, g.pre16 = pre16, g.bias16 = bias16, g.R = R;
    return g;
  }
};

// A GEMM with a residual as a plain accumulating one: C = R (copy(dst, src, n) copies n floats,
// skipped when R is C), then beta 1. C is contiguous (the bindings make it so), R in its layout.
template <class In, class Copy>
GemmArgsT<In> residual_into_c(const GemmArgsT<In>& g, Copy copy) {
  GemmArgsT<In> h = g;
  if (g.R != g.C) copy(g.C, g.R, (size_t)((g.batch - 1) * g.stride_c + (g.M - 1) * g.ldc + g.N));
  h.R = nullptr;
  h.beta = 1.f;
  return h;
}
using GemmArgs = GemmArgsT<float>;
using GemmBf16Args = GemmArgsT<uint16_t>;

// Multi-head scaled-dot-product attention, no mask, no dropout.
// q: rows of B*Nq tokens with row stride q_rs (elements); head h occupies columns
// [h*hd, (h+1)*hd) after the column offset already applied to the pointer. Same for k, v, o.
// lse [B, H, Nq] holds the log-sum-exp of each softmax row (saved for backward).
struct AttnArgs {
  int64_t B = 0, Nq = 0, Nk = 0, H = 0, hd = 0;
  float scale = 1.f;
  const float* q = nullptr; int64_t q_rs = 0;
  const float* k = nullptr; int64_t k_rs = 0;
  const float* v = nullptr; int64_t v_rs = 0;
  float* o = nullptr; int64_t o_rs = 0;
  float* lse = nullptr;
  // backward only
  const float* dout = nullptr; int64_t dout_rs = 0;
  float* dq = nullptr; int64_t dq_rs = 0;  // written (not accumulated)
  float* dk = nullptr; int64_t dk_rs = 0;
  float* dv = nullptr; int64_t dv_rs = 0;
  // Mixed precision: the CUDA backend may round q, k, v, dout, P and dS to bf16 for its tensor
  // cores (fp32 accumulation); the CPU backend ignores the flag (its forward from bf16 q16, k16,
  // v16 on AVX512-BF16 rounds P whenever it runs).
  bool bf16 = false;
  // bf16 activations: when set, q, k, v are read from (and o written to / read from) these
  // instead of the fp32 pointers, with the same row strides. Passed only to a backend whose
  // attention_reads_bf16 accepts the call; for the others the bindings widen to fp32 copies.
  const uint16_t *q16 = nullptr, *k16 = nullptr, *v16 = nullptr;
  uint16_t* o16 = nullptr;
};

// One tensor of an AdamW step: the parameter, its gradient and moments (n elements each), and
// the factors of its own step count and weight decay.
struct AdamWTensor {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n;
  float decay;      // 1 - lr * wd
  float step_size;  // lr / (1 - beta1^t)
  float bc2_sqrt;   // sqrt(1 - beta2^t)
};

struct Backend {
  const char* name;

  void (*gemm)(const GemmArgs& a);
  void (*gemm_bf16)(const GemmBf16Args& a);
  void (*attention_fwd)(const AttnArgs& a);
  void (*attention_bwd)(const AttnArgs& a);
  // Whether attention_fwd / attention_bwd read q16, k16, v16, o16 themselves for this call.
  bool (*attention_reads_bf16)(const AttnArgs& a);

  // y = (x - mean) * rstd * w + b over the last dim; w, b may be null (no affine).
  void (*layernorm_fwd)(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                        int64_t rows, int64_t cols, float eps);
  // The same with y rounded to bf16 (mixed precision: a norm whose output only feeds a GEMM).
  void (*layernorm_fwd_bf16)(const float* x, const float* w, const float* b, uint16_t* y, float* mean, float* rstd,
                             int64_t rows, int64_t cols, float eps);
  // dx is written (added to, with accumulate_dx: a residual stream's gradient, in place of a pass
  // of its own); dw, db (if non-null) are accumulated. dy in fp32, or as dy16 in bf16 (the
  // gradient a bf16 output's GEMM wrote under mixed precision; dy null then).
  void (*layernorm_bwd)(const float* dy, const uint16_t* dy16, const float* x, const float* w, const float* mean,
                        const float* rstd, float* dx, float* dw, float* db, int64_t rows, int64_t cols,
                        bool accumulate_dx);

  void (*gelu_fwd)(const float* x, float* y, int64_t n);
  void (*gelu_bwd)(const float* x, const float* dy, float* dx, int64_t n);  // dx written
  // The same from a bf16 pre-activation [rows, cols] (saved under mixed precision) and dy in fp32
  // or, as dy16, in bf16 (fc2's input gradient; the other pointer null), in one pass: dx in fp32 and
  // dx16 rounded to bf16 (the operand of the GEMMs that follow), each if non-null, and
  // db[c] (+)= sum_r dx[r, c] (fc1's bias gradient, summed in double) if db is non-null.
  void (*gelu_bwd_bf16)(const uint16_t* x, const float* dy, const uint16_t* dy16, float* dx, uint16_t* dx16, float* db,
                        int64_t rows, int64_t cols, bool accumulate);

  // Tubelet unfold: video [B,C,T,H,W] -> patches [B,K,C*t*p*p] in the conv-weight order (c, dt, dy, dx).
  // idx [B,K] selects tokens (k = d*Hp*Wp + h*Wp + w); null means all N tokens in order.
  void (*unfold_tubelets)(const float* x, const int32_t* idx, float* out, int64_t B, int64_t C, int64_t T,
                          int64_t H, int64_t W, int64_t t, int64_t p, int64_t K);

  // out[b,k,:] = x[bx,idx[b,k],:] with bx = (x_batch == 1 ? 0 : b).
  void (*gather_rows)(const float* x, const int32_t* idx, float* out, int64_t B, int64_t x_batch, int64_t N,
                      int64_t K, int64_t D);
  // dx[bx,idx[b,k],:] += dout[b,k,:] (accumulates; x_batch == 1 sums over b).
  void (*scatter_add_rows)(const float* dout, const int32_t* idx, float* dx, int64_t B, int64_t x_batch,
                           int64_t N, int64_t K, int64_t D);
  // dst[o*dst_stride + i] (+)= src[o*src_stride + i] for o < outer, i < inner.
  void (*copy_blocks)(const float* src, float* dst, int64_t outer, int64_t inner, int64_t src_stride,
                      int64_t dst_stride, bool accumulate);

  void (*fill)(float* x, int64_t n, float v);
  // out = a*x + b*y (y may be null: out = a*x). out may alias x or y.
  void (*axpby)(const float* x, const float* y, float* out, int64_t n, float a, float b);
  // out[r, c] = x[r, c] + v[c] for r < rows (broadcast add of a row vector of length cols).
  void (*add_rowvec)(const float* x, const float* v, float* out, int64_t rows, int64_t cols);
  // out[c] (+)= sum_r x[r, c], summed in double; xb, if non-null, gets x rounded to bf16 in the
  // same pass (a linear layer's output gradient: its bias gradient and its GEMM operand).
  void (*sum_rows)(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate, uint16_t* xb);
  double (*sum_squares)(const float* x, int64_t n);
  // sum over k < count of sum_squares(xs[k], ns[k]), added in k order; one host read on CUDA
  // (gradient norms over every parameter would otherwise synchronise once per tensor).
  double (*sum_squares_many)(const float* const* xs, const int64_t* ns, int64_t count);
  // mean over columns of the std (biased) over rows: the collapse monitor.
  double (*mean_col_std)(const float* x, int64_t rows, int64_t cols);

  // mean(|p - t|^e) / e, and its gradient scaled by g (dp written).
  double (*loss_fwd)(const float* p, const float* t, int64_t n, float e);
  void (*loss_bwd)(const float* p, const float* t, float* dp, int64_t n, float e, float g);
  // std[b,d] = sqrt(var_unbiased_k(x[b,:,d]) + eps); backward: dx[b,k,d] (+)= gstd[b,d] * d std / d x.
  void (*token_std_fwd)(const float* x, float* std, int64_t B, int64_t K, int64_t D, float eps);
  void (*token_std_bwd)(const float* x, const float* std, const float* gstd, float* dx, int64_t B, int64_t K,
                        int64_t D);

  // Softmax cross-entropy over rows; returns the mean loss; dlogits (if non-null) = grad of the mean * g.
  double (*cross_entropy)(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t cols,
                          float g);
  void (*softmax)(const float* x, float* y, int64_t rows, int64_t cols);

  // Multi-tensor ops (torch's foreach): one call, and on CUDA a few launches, for a whole
  // parameter list. AdamW as torch.optim.AdamW: decoupled decay p *= decay first, then the Adam
  // update with bias corrections (the per-tensor factors are formed by the caller, api/optim_api.cc).
  void (*adamw_many)(const AdamWTensor* ts, int64_t count, float beta1, float beta2, float eps);
  // targets[k] = m * targets[k] + (1 - m) * onlines[k]
  void (*ema_many)(float* const* targets, const float* const* onlines, const int64_t* ns, int64_t count, float m);
  // xs[k] *= a (gradient clipping)
  void (*scale_many)(float* const* xs, const int64_t* ns, int64_t count, float a);

  // dtype casts for mixed precision (bf16 stored as uint16).
  void (*f32_to_bf16)(const float* x, uint16_t* y, int64_t n);
  void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
  // ys[k] = bf16(xs[k]) for a list (the weights an autocast region rounds, in few launches).
  void (*f32_to_bf16_many)(const float* const* xs, uint16_t* const* ys, const int64_t* ns, int64_t count);
};

const Backend& cpu_backend();
const Backend& cuda_backend();  // throws with the reason when CUDA is unavailable
const Backend& backend_for(Device d);

}  // namespace vj
