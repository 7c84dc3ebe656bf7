#include "api/common.h"

using namespace vj;

// adamw(param, grad, m, v, lr, beta1, beta2, eps, wd, step)
VJ_BINDING(adamw) {
  Args a(info, "adamw");
  Tensor &p = a.tensor(0, "param"), &g = a.tensor(1, "grad"), &m = a.tensor(2, "m"), &v = a.tensor(3, "v");
  float lr = (float)a.num(4, "lr"), b1 = (float)a.num(5, "beta1"), b2 = (float)a.num(6, "beta2"), eps = (float)a.num(7, "eps"),
        wd = (float)a.num(8, "weightDecay");
  int64_t step = a.i64(9, "step");
  if (step < 1) fail("adamw: step must be >= 1 (bias correction), got " + std::to_string(step));
  const Backend& be = same_device("adamw", {&p, &g, &m, &v});
  need_f32("adamw", {{"param", &p}, {"grad", &g}, {"m", &m}, {"v", &v}});
  check_same_shape("adamw", "param", p, "grad", g);
  check_same_shape("adamw", "param", p, "m", m);
  check_same_shape("adamw", "param", p, "v", v);
  need(be.adamw, be, "adamw")(p.f32(), g.f32(), m.f32(), v.f32(), p.numel(), lr, b1, b2, eps, wd, step);
  return info.Env().Undefined();
}

// ema(target, online, momentum)
VJ_BINDING(ema) {
  Args a(info, "ema");
  Tensor &t = a.tensor(0, "target"), &o = a.tensor(1, "online");
  float m = (float)a.num(2, "momentum");
  const Backend& be = same_device("ema", {&t, &o});
  need_f32("ema", {{"target", &t}, {"online", &o}});
  check_same_shape("ema", "target", t, "online", o);
  need(be.ema, be, "ema")(t.f32(), o.f32(), t.numel(), m);
  return info.Env().Undefined();
}
