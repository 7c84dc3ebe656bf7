#include <vector>

#include "api/common.h"

using namespace vj;

// q/k/v are [B, N, C] token-major tensors; heads occupy hd-wide column groups starting at
// the given column offset, so the fused qkv (self-attention) and kv (cross-attention)
// projections are read in place without a split copy. q, k, v and out are all float32, or all
// bfloat16 (mixed-precision activations; lse and the gradients stay float32).
static void check_operand(const char* op, const char* name, const Tensor& t, int64_t B, int64_t N, int64_t off,
                          int64_t width, DType dtype = DType::F32) {
  check_dtype(op, name, t, dtype);
  check_shape(op, name, t, {B, N, -1});
  if (off < 0 || off + width > t.shape[2])
    fail(std::string(op) + ": " + name + " " + t.desc() + " has no columns [" + std::to_string(off) + ", " +
         std::to_string(off + width) + ")");
}

static AttnArgs make_attn(Args& a, const char* op, Tensor& q, int64_t qo, Tensor& k, int64_t ko, Tensor& v, int64_t vo,
                          Tensor& o, Tensor& lse, int64_t H, double scale) {
  if (o.dim() != 3) fail(std::string(op) + ": out must be [B, Nq, H*hd], got " + o.desc());
  int64_t B = o.shape[0], Nq = o.shape[1], C = o.shape[2];
  if (H < 1 || C % H) fail(std::string(op) + ": " + std::to_string(C) + " channels do not split into " + std::to_string(H) + " heads");
  if (k.dim() != 3) fail(std::string(op) + ": k must be [B, Nk, *], got " + k.desc());
  int64_t Nk = k.shape[1];
  const DType dt = q.dtype == DType::BF16 ? DType::BF16 : DType::F32;
  if (k.dtype != dt || v.dtype != dt || o.dtype != dt)
    fail(std::string(op) + ": q, k, v and out must be all float32 or all bfloat16, got q " + q.desc() + ", k " +
         k.desc() + ", v " + v.desc() + ", out " + o.desc());
  check_operand(op, "q", q, B, Nq, qo, C, dt);
  check_operand(op, "k", k, B, Nk, ko, C, dt);
  check_operand(op, "v", v, B, Nk, vo, C, dt);
  check_dtype(op, "lse", lse, DType::F32);
  check_shape(op, "lse", lse, {B, H, Nq});
  if (Nk < 1) fail(std::string(op) + ": attention needs at least one key");
  AttnArgs x;
  x.B = B;
  x.Nq = Nq;
  x.Nk = Nk;
  x.H = H;
  x.hd = C / H;
  x.scale = (float)scale;
  if (dt == DType::BF16) {
    x.q16 = q.ptr<uint16_t>() + qo;
    x.k16 = k.ptr<uint16_t>() + ko;
    x.v16 = v.ptr<uint16_t>() + vo;
    x.o16 = o.ptr<uint16_t>();
  } else {
    x.q = q.f32() + qo;
    x.k = k.f32() + ko;
    x.v = v.f32() + vo;
    x.o = o.f32();
  }
  x.q_rs = q.shape[2];
  x.k_rs = k.shape[2];
  x.v_rs = v.shape[2];
  x.o_rs = C;
  x.lse = lse.f32();
  return x;
}

// bf16 activations for a backend whose kernels read fp32 only: each distinct tensor among q, k,
// v (and out, for backward) widened once into a temporary, and the arguments pointed at them.
// Widening is exact, so those kernels compute on the same values.
struct Widened {
  std::vector<std::pair<const void*, Tensor>> copies;

  float* of(const Backend& be, const Tensor& t, int64_t off) {
    for (auto& [src, w] : copies)
      if (src == t.raw()) return w.f32() + off;
    Tensor w = Tensor::empty(t.shape, DType::F32, t.device(), t.storage->device_index);
    be.bf16_to_f32(t.ptr<uint16_t>(), w.f32(), t.numel());
    copies.emplace_back(t.raw(), w);
    return w.f32() + off;
  }
};

static bool needs_widening(const Backend& be, const AttnArgs& x) {
  return x.q16 && !need(be.attention_reads_bf16, be, "attention")(x);
}

static void widen(const Backend& be, Widened& w, AttnArgs& x, const Tensor& q, int64_t qo, const Tensor& k, int64_t ko,
                  const Tensor& v, int64_t vo) {
  x.q = w.of(be, q, qo);
  x.k = w.of(be, k, ko);
  x.v = w.of(be, v, vo);
  x.q16 = x.k16 = x.v16 = nullptr;
  x.o16 = nullptr;
}

// attentionFwd(q, qOff, k, kOff, v, vOff, out, lse, heads, scale[, bf16])
VJ_BINDING(attentionFwd) {
  Args a(info, "attentionFwd");
  Tensor& q = a.tensor(0, "q");
  int64_t qo = a.i64(1, "qOff");
  Tensor& k = a.tensor(2, "k");
  int64_t ko = a.i64(3, "kOff");
  Tensor& v = a.tensor(4, "v");
  int64_t vo = a.i64(5, "vOff");
  Tensor& o = a.tensor(6, "out");
  Tensor& lse = a.tensor(7, "lse");
  int64_t H = a.i64(8, "heads");
  double scale = a.f32(9, "scale");
  const Backend& be = same_device("attentionFwd", {&q, &k, &v, &o, &lse});
  AttnArgs x = make_attn(a, "attentionFwd", q, qo, k, ko, v, vo, o, lse, H, scale);
  x.bf16 = info.Length() > 10 && !info[10].IsUndefined() && a.boolean(10, "bf16");
  if (needs_widening(be, x)) {
    Widened w;
    widen(be, w, x, q, qo, k, ko, v, vo);
    Tensor o32 = Tensor::empty(o.shape, DType::F32, o.device(), o.storage->device_index);
    x.o = o32.f32();
    need(be.attention_fwd, be, "attentionFwd")(x);
    be.f32_to_bf16(o32.f32(), o.ptr<uint16_t>(), o.numel());  // out is written whole: [B, Nq, H*hd]
    return info.Env().Undefined();
  }
  need(be.attention_fwd, be, "attentionFwd")(x);
  return info.Env().Undefined();
}

// attentionBwd(q, qOff, k, kOff, v, vOff, out, lse, dout, dq, dqOff, dk, dkOff, dv, dvOff, heads, scale[, bf16])
// dq/dk/dv columns are written (not accumulated); they may share one buffer at different offsets.
VJ_BINDING(attentionBwd) {
  Args a(info, "attentionBwd");
  const char* op = "attentionBwd";
  Tensor& q = a.tensor(0, "q");
  int64_t qo = a.i64(1, "qOff");
  Tensor& k = a.tensor(2, "k");
  int64_t ko = a.i64(3, "kOff");
  Tensor& v = a.tensor(4, "v");
  int64_t vo = a.i64(5, "vOff");
  Tensor& o = a.tensor(6, "out");
  Tensor& lse = a.tensor(7, "lse");
  Tensor& dout = a.tensor(8, "dout");
  Tensor& dq = a.tensor(9, "dq");
  int64_t dqo = a.i64(10, "dqOff");
  Tensor& dk = a.tensor(11, "dk");
  int64_t dko = a.i64(12, "dkOff");
  Tensor& dv = a.tensor(13, "dv");
  int64_t dvo = a.i64(14, "dvOff");
  int64_t H = a.i64(15, "heads");
  double scale = a.f32(16, "scale");
  const Backend& be = same_device(op, {&q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv});
  AttnArgs x = make_attn(a, op, q, qo, k, ko, v, vo, o, lse, H, scale);
  check_same_shape(op, "dout", dout, "out", o);
  check_dtype(op, "dout", dout, DType::F32);
  int64_t C = o.shape[2];
  check_operand(op, "dq", dq, x.B, x.Nq, dqo, C);
  check_operand(op, "dk", dk, x.B, x.Nk, dko, C);
  check_operand(op, "dv", dv, x.B, x.Nk, dvo, C);
  x.dout = dout.f32();
  x.dout_rs = C;
  x.dq = dq.f32() + dqo;
  x.dq_rs = dq.shape[2];
  x.dk = dk.f32() + dko;
  x.dk_rs = dk.shape[2];
  x.dv = dv.f32() + dvo;
  x.dv_rs = dv.shape[2];
  x.bf16 = info.Length() > 17 && !info[17].IsUndefined() && a.boolean(17, "bf16");
  Widened w;
  if (needs_widening(be, x)) {
    widen(be, w, x, q, qo, k, ko, v, vo);
    x.o = w.of(be, o, 0);
  }
  need(be.attention_bwd, be, op)(x);
  return info.Env().Undefined();
}
