// LayerNorm, GELU and the tubelet unfold.
#include "api/common.h"

using namespace vj;

// layernormFwd(x, w|null, b|null, y, mean, rstd, eps): normalises the last dim. y may be
// bfloat16 (a norm feeding a GEMM under mixed precision): computed in fp32, rounded once.
VJ_BINDING(layernormFwd) {
  Args a(info, "layernormFwd");
  const char* op = "layernormFwd";
  Tensor& x = a.tensor(0, "x");
  Tensor* w = a.opt_tensor(1, "weight");
  Tensor* b = a.opt_tensor(2, "bias");
  Tensor& y = a.tensor(3, "y");
  Tensor& mean = a.tensor(4, "mean");
  Tensor& rstd = a.tensor(5, "rstd");
  float eps = a.f32(6, "eps");
  const Backend& be = same_device(op, {&x, w, b, &y, &mean, &rstd});
  need_f32(op, {{"x", &x}, {"weight", w}, {"bias", b}, {"mean", &mean}, {"rstd", &rstd}});
  if (y.dtype != DType::F32 && y.dtype != DType::BF16)
    fail(std::string(op) + ": y must be float32 or bfloat16, got " + y.desc());
  int64_t C = last_dim(x), R = x.numel() / std::max<int64_t>(1, C);
  check_same_shape(op, "x", x, "y", y);
  if (w) check_numel(op, "weight", *w, C);
  if (b) check_numel(op, "bias", *b, C);
  check_numel(op, "mean", mean, R);
  check_numel(op, "rstd", rstd, R);
  const float* wp = w ? w->f32() : nullptr;
  const float* bp = b ? b->f32() : nullptr;
  if (y.dtype == DType::BF16)
    need(be.layernorm_fwd_bf16, be, op)(x.f32(), wp, bp, y.ptr<uint16_t>(), mean.f32(), rstd.f32(), R, C, eps);
  else
    need(be.layernorm_fwd, be, op)(x.f32(), wp, bp, y.f32(), mean.f32(), rstd.f32(), R, C, eps);
  return info.Env().Undefined();
}

// layernormBwd(dy, x, w|null, mean, rstd, dx, dw|null, db|null, accumulateDx?): dx written (added to
// with accumulateDx), dw/db accumulated. dy may be bfloat16 (the gradient of a bf16 output, written
// so by the GEMM that read it under mixed precision).
VJ_BINDING(layernormBwd) {
  Args a(info, "layernormBwd");
  const char* op = "layernormBwd";
  Tensor& dy = a.tensor(0, "dy");
  Tensor& x = a.tensor(1, "x");
  Tensor* w = a.opt_tensor(2, "weight");
  Tensor& mean = a.tensor(3, "mean");
  Tensor& rstd = a.tensor(4, "rstd");
  Tensor& dx = a.tensor(5, "dx");
  Tensor* dw = a.opt_tensor(6, "dweight");
  Tensor* db = a.opt_tensor(7, "dbias");
  const bool acc = a.count() > 8 && !info[8].IsUndefined() && a.boolean(8, "accumulateDx");
  const Backend& be = same_device(op, {&dy, &x, w, &mean, &rstd, &dx, dw, db});
  const bool dy16 = dy.dtype == DType::BF16;
  need_f32(op, {{"dy", dy16 ? nullptr : &dy}, {"x", &x}, {"weight", w}, {"mean", &mean}, {"rstd", &rstd}, {"dx", &dx}, {"dweight", dw}, {"dbias", db}});
  int64_t C = last_dim(x), R = x.numel() / std::max<int64_t>(1, C);
  check_same_shape(op, "dy", dy, "x", x);
  check_same_shape(op, "dx", dx, "x", x);
  if (w) check_numel(op, "weight", *w, C);
  if (dw) check_numel(op, "dweight", *dw, C);
  if (db) check_numel(op, "dbias", *db, C);
  check_numel(op, "mean", mean, R);
  check_numel(op, "rstd", rstd, R);
  // Rows of dx are written as dy's and x's are read, so dx may not share their storage when it is
  // added to (a gradient that arrived as a view of dy, say).
  if (acc && (dx.storage == dy.storage || dx.storage == x.storage))
    fail(std::string(op) + ": dx " + dx.desc() + " shares storage with " + (dx.storage == dy.storage ? "dy" : "x") +
         "; it cannot be accumulated into in place");
  need(be.layernorm_bwd, be, op)(dy16 ? nullptr : dy.f32(), dy16 ? dy.ptr<uint16_t>() : nullptr, x.f32(),
                                 w ? w->f32() : nullptr, mean.f32(), rstd.f32(), dx.f32(), dw ? dw->f32() : nullptr,
                                 db ? db->f32() : nullptr, R, C, acc);
  return info.Env().Undefined();
}

VJ_BINDING(geluFwd) {
  Args a(info, "geluFwd");
  Tensor &x = a.tensor(0, "x"), &y = a.tensor(1, "y");
  const Backend& be = same_device("geluFwd", {&x, &y});
  need_f32("geluFwd", {{"x", &x}, {"y", &y}});
  check_same_shape("geluFwd", "x", x, "y", y);
  need(be.gelu_fwd, be, "geluFwd")(x.f32(), y.f32(), x.numel());
  return info.Env().Undefined();
}

// geluBwd(x, dy, dx, dx16?, db?, accumulate?): dx = dy * gelu'(x). x may be bfloat16 (the
// pre-activation saved under mixed precision); then dy may be bfloat16 too (fc2's input gradient),
// and, in the same pass, dx16 (if given) receives dx rounded to bfloat16, db [C] (if given) gets
// db[c] (+)= sum over the rows of dx viewed as [numel/C, C] (fc1's bias gradient), and dx may be
// null when dx16 or db is given.
VJ_BINDING(geluBwd) {
  Args a(info, "geluBwd");
  Tensor &x = a.tensor(0, "x"), &dy = a.tensor(1, "dy");
  Tensor *dx = a.opt_tensor(2, "dx"), *dx16 = a.opt_tensor(3, "dx16"), *db = a.opt_tensor(4, "db");
  const bool acc = a.count() > 5 && !info[5].IsUndefined() && a.boolean(5, "accumulate");
  const Backend& be = same_device("geluBwd", {&x, &dy, dx, dx16, db});
  if (dy.dtype == DType::BF16 && x.dtype != DType::BF16)
    fail("geluBwd: a bfloat16 dy goes with a bfloat16 x (the mixed-precision pre-activation), got x " + x.desc());
  if (dy.dtype != DType::BF16) need_f32("geluBwd", {{"dy", &dy}});
  check_same_shape("geluBwd", "x", x, "dy", dy);
  if (dx) {
    need_f32("geluBwd", {{"dx", dx}});
    check_same_shape("geluBwd", "x", x, "dx", *dx);
  }
  if (x.dtype == DType::BF16) {
    if (!dx && !dx16 && !db) fail("geluBwd: nothing to write: give dx, dx16 or db");
    if (dx16) {
      check_dtype("geluBwd", "dx16", *dx16, DType::BF16);
      check_same_shape("geluBwd", "x", x, "dx16", *dx16);
    }
    int64_t cols = x.numel();
    if (db) {
      need_f32("geluBwd", {{"db", db}});
      cols = db->numel();
      if (cols == 0 || x.numel() % cols) fail("geluBwd: x " + x.desc() + " is not a whole number of rows of db " + db->desc());
    }
    const bool g16 = dy.dtype == DType::BF16;
    need(be.gelu_bwd_bf16, be, "geluBwd")(x.ptr<uint16_t>(), g16 ? nullptr : dy.f32(), g16 ? dy.ptr<uint16_t>() : nullptr,
                                          dx ? dx->f32() : nullptr, dx16 ? dx16->ptr<uint16_t>() : nullptr,
                                          db ? db->f32() : nullptr, cols ? x.numel() / cols : 0, cols, acc);
  } else {
    check_dtype("geluBwd", "x", x, DType::F32);
    if (dx16) fail("geluBwd: dx16 is only written for a bfloat16 x, got x " + x.desc());
    if (db) fail("geluBwd: db is only summed for a bfloat16 x, got x " + x.desc());
    if (!dx) fail("geluBwd: dx must be a tensor for a float32 x");
    need(be.gelu_bwd, be, "geluBwd")(x.f32(), dy.f32(), dx->f32(), x.numel());
  }
  return info.Env().Undefined();
}

// unfoldTubelets(x [B,C,T,H,W], idx|null [B,K] int32, out [B,K,C*t*p*p], t, p)
VJ_BINDING(unfoldTubelets) {
  Args a(info, "unfoldTubelets");
  const char* op = "unfoldTubelets";
  Tensor& x = a.tensor(0, "x");
  Tensor* idx = a.opt_tensor(1, "idx");
  Tensor& out = a.tensor(2, "out");
  int64_t t = a.i64(3, "tubelet"), p = a.i64(4, "patch");
  const Backend& be = same_device(op, {&x, idx, &out});
  need_f32(op, {{"x", &x}, {"out", &out}});
  if (x.dim() != 5) fail(std::string(op) + ": x must be [B, C, T, H, W], got " + x.desc());
  if (t < 1 || p < 1) fail(std::string(op) + ": tubelet and patch must be >= 1");
  int64_t B = x.shape[0], C = x.shape[1], T = x.shape[2], H = x.shape[3], W = x.shape[4];
  int64_t N = (T / t) * (H / p) * (W / p);
  if (N == 0) fail(std::string(op) + ": clip " + x.desc() + " is smaller than one tubelet (" + std::to_string(t) + "x" + std::to_string(p) + "x" + std::to_string(p) + ")");
  int64_t K = N;
  if (idx) {
    check_dtype(op, "idx", *idx, DType::I32);
    check_shape(op, "idx", *idx, {B, -1});
    K = idx->shape[1];
    if (idx->device() == Device::CPU) {
      const int32_t* ip = idx->ptr<int32_t>();
      for (int64_t i = 0; i < idx->numel(); i++)
        if (ip[i] < 0 || ip[i] >= N) fail(std::string(op) + ": token index " + std::to_string(ip[i]) + " outside [0, " + std::to_string(N) + ")");
    }
  }
  check_shape(op, "out", out, {B, K, C * t * p * p});
  need(be.unfold_tubelets, be, op)(x.f32(), idx ? idx->ptr<int32_t>() : nullptr, out.f32(), B, C, T, H, W, t, p, K);
  return info.Env().Undefined();
}
