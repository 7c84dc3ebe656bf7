// Losses: the JEPA L1 (loss_exp), the variance-hinge std, and softmax cross-entropy.
#include "api/common.h"

using namespace vj;

VJ_BINDING(lossFwd) {
  Args a(info, "lossFwd");
  Tensor &p = a.tensor(0, "pred"), &t = a.tensor(1, "target");
  float e = a.f32(2, "lossExp");
  const Backend& be = same_device("lossFwd", {&p, &t});
  need_f32("lossFwd", {{"pred", &p}, {"target", &t}});
  check_same_shape("lossFwd", "pred", p, "target", t);
  if (!(e > 0)) fail("lossFwd: loss_exp must be > 0");
  if (p.numel() == 0) fail("lossFwd: empty prediction " + p.desc());
  return Napi::Number::New(info.Env(), need(be.loss_fwd, be, "lossFwd")(p.f32(), t.f32(), p.numel(), e));
}

VJ_BINDING(lossBwd) {
  Args a(info, "lossBwd");
  Tensor &p = a.tensor(0, "pred"), &t = a.tensor(1, "target"), &dp = a.tensor(2, "dpred");
  float e = a.f32(3, "lossExp"), g = a.f32(4, "gradScale");
  const Backend& be = same_device("lossBwd", {&p, &t, &dp});
  need_f32("lossBwd", {{"pred", &p}, {"target", &t}, {"dpred", &dp}});
  check_same_shape("lossBwd", "pred", p, "target", t);
  check_same_shape("lossBwd", "pred", p, "dpred", dp);
  need(be.loss_bwd, be, "lossBwd")(p.f32(), t.f32(), dp.f32(), p.numel(), e, g);
  return info.Env().Undefined();
}

VJ_BINDING(tokenStdFwd) {
  Args a(info, "tokenStdFwd");
  Tensor &x = a.tensor(0, "x"), &s = a.tensor(1, "std");
  float eps = a.f32(2, "eps");
  const Backend& be = same_device("tokenStdFwd", {&x, &s});
  need_f32("tokenStdFwd", {{"x", &x}, {"std", &s}});
  if (x.dim() != 3) fail("tokenStdFwd: x must be [B, K, D], got " + x.desc());
  if (x.shape[1] < 2) fail("tokenStdFwd: the unbiased std needs at least 2 tokens, got " + x.desc());
  check_shape("tokenStdFwd", "std", s, {x.shape[0], x.shape[2]});
  need(be.token_std_fwd, be, "tokenStdFwd")(x.f32(), s.f32(), x.shape[0], x.shape[1], x.shape[2], eps);
  return info.Env().Undefined();
}

VJ_BINDING(tokenStdBwd) {
  Args a(info, "tokenStdBwd");
  Tensor &x = a.tensor(0, "x"), &s = a.tensor(1, "std"), &gs = a.tensor(2, "gstd"), &dx = a.tensor(3, "dx");
  const Backend& be = same_device("tokenStdBwd", {&x, &s, &gs, &dx});
  need_f32("tokenStdBwd", {{"x", &x}, {"std", &s}, {"gstd", &gs}, {"dx", &dx}});
  if (x.dim() != 3) fail("tokenStdBwd: x must be [B, K, D], got " + x.desc());
  check_shape("tokenStdBwd", "std", s, {x.shape[0], x.shape[2]});
  check_same_shape("tokenStdBwd", "std", s, "gstd", gs);
  check_same_shape("tokenStdBwd", "x", x, "dx", dx);
  need(be.token_std_bwd, be, "tokenStdBwd")(x.f32(), s.f32(), gs.f32(), dx.f32(), x.shape[0], x.shape[1], x.shape[2]);
  return info.Env().Undefined();
}

// crossEntropy(logits [R,C], labels int32 [R], dlogits|null, gradScale) -> mean loss
VJ_BINDING(crossEntropy) {
  Args a(info, "crossEntropy");
  Tensor &x = a.tensor(0, "logits"), &l = a.tensor(1, "labels");
  Tensor* d = a.opt_tensor(2, "dlogits");
  float g = a.f32(3, "gradScale");
  const Backend& be = same_device("crossEntropy", {&x, &l, d});
  need_f32("crossEntropy", {{"logits", &x}, {"dlogits", d}});
  check_dtype("crossEntropy", "labels", l, DType::I32);
  if (x.dim() != 2) fail("crossEntropy: logits must be [rows, classes], got " + x.desc());
  check_shape("crossEntropy", "labels", l, {x.shape[0]});
  if (d) check_same_shape("crossEntropy", "logits", x, "dlogits", *d);
  double loss = need(be.cross_entropy, be, "crossEntropy")(x.f32(), l.ptr<int32_t>(), d ? d->f32() : nullptr, x.shape[0], x.shape[1], g);
  return Napi::Number::New(info.Env(), loss);
}

VJ_BINDING(softmax) {
  Args a(info, "softmax");
  Tensor &x = a.tensor(0, "x"), &y = a.tensor(1, "y");
  const Backend& be = same_device("softmax", {&x, &y});
  need_f32("softmax", {{"x", &x}, {"y", &y}});
  check_same_shape("softmax", "x", x, "y", y);
  int64_t C = last_dim(x);
  need(be.softmax, be, "softmax")(x.f32(), y.f32(), x.numel() / std::max<int64_t>(1, C), C);
  return info.Env().Undefined();
}
