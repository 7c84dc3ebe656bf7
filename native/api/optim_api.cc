#include <cmath>
#include <vector>

#include "api/common.h"

using namespace vj;


// adamwMany(params[], grads[], ms[], vs[], lr, beta1, beta2, eps, weightDecays[], steps[]): one
// torch.optim.AdamW step for every tensor of the lists (torch's foreach / multi-tensor path), each
// with its own weight decay and step count (bias corrections). Elementwise, so the results are
// the same bits as one call per tensor.
VJ_BINDING(adamwMany) {
  const char* op = "adamwMany";
  Args a(info, op);
  std::vector<Tensor*> p = a.tensors(0, "params"), g = a.tensors(1, "grads"), m = a.tensors(2, "ms"), v = a.tensors(3, "vs");
  double lr = a.f32(4, "lr");
  float b1 = a.f32(5, "beta1"), b2 = a.f32(6, "beta2"), eps = a.f32(7, "eps");
  // torch.optim.AdamW's own checks.
  if (lr < 0) fail(std::string(op) + ": lr must be >= 0, got " + std::to_string(lr));
  if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
    fail(std::string(op) + ": betas must be in [0, 1), got (" + std::to_string(b1) + ", " + std::to_string(b2) + ")");
  if (eps < 0) fail(std::string(op) + ": eps must be >= 0, got " + std::to_string(eps));
  std::vector<double> wd = a.nums(8, "weightDecays"), step = a.nums(9, "steps");
  std::vector<int64_t> ns = list_sizes(op, {{"params", &p}, {"grads", &g}, {"ms", &m}, {"vs", &v}});
  if (wd.size() != p.size() || step.size() != p.size())
    fail(std::string(op) + ": " + std::to_string(p.size()) + " params but " + std::to_string(wd.size()) +
         " weight decays and " + std::to_string(step.size()) + " steps");
  const Backend& be = lists_device(op, {&p, &g, &m, &v});
  const float flr = (float)lr;
  std::vector<AdamWTensor> ts(p.size());
  for (size_t k = 0; k < p.size(); k++) {
    if (!(wd[k] >= 0) || !std::isfinite(wd[k]))
      fail(std::string(op) + ": weightDecays[" + std::to_string(k) + "] must be a finite number >= 0, got " +
           std::to_string(wd[k]));
    if (!(step[k] >= 1) || step[k] > 9007199254740992.0 || step[k] != std::floor(step[k]))
      fail(std::string(op) + ": steps[" + std::to_string(k) + "] must be an integer >= 1 (bias correction), got " +
           std::to_string(step[k]));
    // Formed in double from the float32 hyper-parameters, as torch forms them.
    const double bc1 = 1.0 - std::pow((double)b1, step[k]);
    const double bc2 = 1.0 - std::pow((double)b2, step[k]);
    ts[k] = {p[k]->f32(), g[k]->f32(), m[k]->f32(), v[k]->f32(), ns[k],
             (float)(1.0 - (double)flr * (double)(float)wd[k]), (float)(flr / bc1), (float)std::sqrt(bc2)};
  }
  need(be.adamw_many, be, op)(ts.data(), (int64_t)ts.size(), b1, b2, eps);
  return info.Env().Undefined();
}

// emaMany(targets[], onlines[], momentum): targets[k] = m targets[k] + (1 - m) onlines[k] (TRAIN-07).
VJ_BINDING(emaMany) {
  const char* op = "emaMany";
  Args a(info, op);
  std::vector<Tensor*> t = a.tensors(0, "targets"), o = a.tensors(1, "onlines");
  float mom = a.f32(2, "momentum");
  if (!(mom >= 0 && mom <= 1)) fail(std::string(op) + ": momentum must be in [0, 1], got " + std::to_string(mom));
  std::vector<int64_t> ns = list_sizes(op, {{"targets", &t}, {"onlines", &o}});
  const Backend& be = lists_device(op, {&t, &o});
  need(be.ema_many, be, op)(f32_ptrs<float>(t).data(), f32_ptrs<const float>(o).data(), ns.data(), (int64_t)ns.size(), mom);
  return info.Env().Undefined();
}

// scaleMany(xs[], a): xs[k] *= a (clip_grad_norm_'s foreach multiply).
VJ_BINDING(scaleMany) {
  const char* op = "scaleMany";
  Args a(info, op);
  std::vector<Tensor*> x = a.tensors(0, "xs");
  float s = a.f32(1, "a");
  std::vector<int64_t> ns = list_sizes(op, {{"xs", &x}});
  const Backend& be = lists_device(op, {&x});
  need(be.scale_many, be, op)(f32_ptrs<float>(x).data(), ns.data(), (int64_t)ns.size(), s);
  return info.Env().Undefined();
}
