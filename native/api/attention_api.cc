#include "api/common.h"

using namespace vj;

// q/k/v are [B, N, C] token-major tensors; heads occupy hd-wide column groups starting at
// the given column offset, so the fused qkv (self-attention) and kv (cross-attention)
// projections are read in place without a split copy.
static void check_operand(const char* op, const char* name, const Tensor& t, int64_t B, int64_t N, int64_t off,
                          int64_t width) {
  check_dtype(op, name, t, DType::F32);
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
  check_operand(op, "q", q, B, Nq, qo, C);
  check_operand(op, "k", k, B, Nk, ko, C);
  check_operand(op, "v", v, B, Nk, vo, C);
  check_dtype(op, "out", o, DType::F32);
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
  x.q = q.f32() + qo;
  x.q_rs = q.shape[2];
  x.k = k.f32() + ko;
  x.k_rs = k.shape[2];
  x.v = v.f32() + vo;
  x.v_rs = v.shape[2];
  x.o = o.f32();
  x.o_rs = C;
  x.lse = lse.f32();
  return x;
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
  double scale = a.num(9, "scale");
  const Backend& be = same_device("attentionFwd", {&q, &k, &v, &o, &lse});
  AttnArgs x = make_attn(a, "attentionFwd", q, qo, k, ko, v, vo, o, lse, H, scale);
  x.bf16 = info.Length() > 10 && !info[10].IsUndefined() && a.boolean(10, "bf16");
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
  double scale = a.num(16, "scale");
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
  need(be.attention_bwd, be, op)(x);
  return info.Env().Undefined();
}
