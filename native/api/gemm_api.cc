#include <type_traits>

#include "api/common.h"

using namespace vj;

// Matrix dims of a rank-2 or rank-3 operand: (batch, rows, cols).
static void mat_dims(const char* op, const char* name, const Tensor& t, int64_t* b, int64_t* r, int64_t* c) {
  if (t.dim() == 2) {
    *b = 1;
    *r = t.shape[0];
    *c = t.shape[1];
  } else if (t.dim() == 3) {
    *b = t.shape[0];
    *r = t.shape[1];
    *c = t.shape[2];
  } else {
    fail(std::string(op) + ": " + name + " must be 2-D or 3-D (batched), got " + t.desc());
  }
}

// A and B are both float32 (fp32 GEMM) or both bfloat16 (bf16 inputs, fp32 accumulation).
static bool bf16_operands(const char* op, const Tensor& A, const Tensor& B) {
  bool a16 = A.dtype == DType::BF16, b16 = B.dtype == DType::BF16;
  if (a16 != b16 || (!a16 && (A.dtype != DType::F32 || B.dtype != DType::F32)))
    fail(std::string(op) + ": A and B must both be float32 or both bfloat16, got A " + A.desc() + ", B " + B.desc());
  return a16;
}

template <class G>
static G make_gemm(const char* op, Tensor& A, Tensor& B, Tensor& C, bool ta, bool tb, Tensor* bias) {
  if (bias && bias->dtype != DType::F32 && !(bias->dtype == DType::BF16 && C.dtype == DType::BF16))
    fail(std::string(op) + ": bias must be float32 (or bfloat16 with a bfloat16 C), got " + bias->desc() +
         " with C " + C.desc());
  if (C.dtype != DType::F32 && C.dtype != DType::BF16)
    fail(std::string(op) + ": C must be float32 or bfloat16, got " + C.desc());
  int64_t ba, ra, ca, bb, rb, cb, bc, rc, cc;
  mat_dims(op, "A", A, &ba, &ra, &ca);
  mat_dims(op, "B", B, &bb, &rb, &cb);
  mat_dims(op, "C", C, &bc, &rc, &cc);
  int64_t M = ta ? ca : ra, Ka = ta ? ra : ca;
  int64_t Kb = tb ? cb : rb, N = tb ? rb : cb;
  if (Ka != Kb || rc != M || cc != N)
    fail(std::string(op) + ": shapes do not agree: A " + A.desc() + (ta ? "ᵀ" : "") + " @ B " + B.desc() + (tb ? "ᵀ" : "") +
         " -> C " + C.desc());
  if ((ba != 1 && ba != bc) || (bb != 1 && bb != bc))
    fail(std::string(op) + ": batch sizes do not agree: A " + A.desc() + ", B " + B.desc() + ", C " + C.desc());
  if (bias) check_numel(op, "bias", *bias, N);
  using In = std::remove_const_t<std::remove_pointer_t<decltype(G::A)>>;
  G g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.batch = bc;
  g.M = M;
  g.N = N;
  g.K = Ka;
  g.A = A.ptr<In>();
  g.lda = ca;
  g.stride_a = (A.dim() == 3 && ba != 1) ? ra * ca : 0;
  g.B = B.ptr<In>();
  g.ldb = cb;
  g.stride_b = (B.dim() == 3 && bb != 1) ? rb * cb : 0;
  g.ldc = cc;
  g.stride_c = rc * cc;
  if (bias && bias->dtype == DType::BF16) g.bias16 = bias->ptr<uint16_t>();
  else g.bias = bias ? bias->f32() : nullptr;
  return g;
}

template <class G>
static void run_gemm(const Backend& be, const char* op, G& g) {
  if constexpr (std::is_same_v<G, GemmArgs>) need(be.gemm, be, op)(g);
  else need(be.gemm_bf16, be, op)(g);
}

// A bf16 C (or pre) is the epilogue's rounded output; the backend keeps the fp32 product in its
// own scratch where it needs one (cuBLASLt rounds in the GEMM and needs none).
template <class G>
static void gemm_into(const Backend& be, const char* op, Tensor& A, Tensor& B, Tensor& C, bool ta, bool tb,
                      Tensor* bias, float alpha, float beta, Tensor* pre, bool gelu, Tensor* residual = nullptr) {
  G g = make_gemm<G>(op, A, B, C, ta, tb, bias);
  if (residual) {
    if (C.dtype != DType::F32 || residual->dtype != DType::F32)
      fail(std::string(op) + ": a residual needs float32 C and residual, got C " + C.desc() + ", residual " +
           residual->desc());
    check_same_shape(op, "C", C, "residual", *residual);
    if (beta != 0.f) fail(std::string(op) + ": beta must be 0 with a residual (C = A B + bias + residual)");
    g.R = residual->f32();
  }
  g.alpha = alpha;
  g.beta = beta;
  g.gelu = gelu;
  if (C.dtype == DType::BF16) {
    if (beta != 0.f) fail(std::string(op) + ": beta must be 0 when C is bfloat16 (" + C.desc() + ")");
    g.C16 = C.ptr<uint16_t>();
  } else {
    g.C = C.f32();
  }
  if (pre && pre->dtype == DType::BF16) g.pre16 = pre->ptr<uint16_t>();
  else g.pre = pre ? pre->f32() : nullptr;
  run_gemm(be, op, g);
}

// gemm(A, B, C, transA, transB, alpha, beta, bias|null, residual?): C = alpha op(A) op(B) + beta C
// + bias (+ residual, with beta 0: a transformer block's x + proj(...) in one GEMM; it may be C).
// A and B float32 or both bfloat16; C float32, or bfloat16 (rounded once, beta 0; the bias is then
// rounded to bf16 too, or given in bfloat16).
VJ_BINDING(gemm) {
  Args a(info, "gemm");
  Tensor &A = a.tensor(0, "A"), &B = a.tensor(1, "B"), &C = a.tensor(2, "C");
  bool ta = a.boolean(3, "transA"), tb = a.boolean(4, "transB");
  float alpha = a.f32(5, "alpha"), beta = a.f32(6, "beta");
  Tensor* bias = a.opt_tensor(7, "bias");
  Tensor* R = a.opt_tensor(8, "residual");
  const Backend& be = same_device("gemm", {&A, &B, &C, bias, R});
  if (bf16_operands("gemm", A, B)) gemm_into<GemmBf16Args>(be, "gemm", A, B, C, ta, tb, bias, alpha, beta, nullptr, false, R);
  else gemm_into<GemmArgs>(be, "gemm", A, B, C, ta, tb, bias, alpha, beta, nullptr, false, R);
  return info.Env().Undefined();
}

// gemmGelu(A, B, C, pre|null, transB, bias|null): pre = A op(B) + bias; C = gelu(pre)  (the MLP's fc1
// epilogue). pre is only needed for backward; without it nothing but C is written. C and pre may
// each be bfloat16: the epilogue computes in fp32 and rounds what it stores; with a bfloat16 C the
// bias is rounded and the GELU reads the pre-activation rounded to bf16 (backend.h).
VJ_BINDING(gemmGelu) {
  Args a(info, "gemmGelu");
  Tensor &A = a.tensor(0, "A"), &B = a.tensor(1, "B"), &C = a.tensor(2, "C");
  Tensor* P = a.opt_tensor(3, "pre");
  bool tb = a.boolean(4, "transB");
  Tensor* bias = a.opt_tensor(5, "bias");
  const Backend& be = same_device("gemmGelu", {&A, &B, &C, P, bias});
  if (P) check_same_shape("gemmGelu", "C", C, "pre", *P);
  if (P && P->dtype != DType::F32 && P->dtype != DType::BF16)
    fail(std::string("gemmGelu: pre must be float32 or bfloat16, got ") + P->desc());
  if (bf16_operands("gemmGelu", A, B)) gemm_into<GemmBf16Args>(be, "gemmGelu", A, B, C, false, tb, bias, 1.f, 0.f, P, true);
  else gemm_into<GemmArgs>(be, "gemmGelu", A, B, C, false, tb, bias, 1.f, 0.f, P, true);
  return info.Env().Undefined();
}
