// Weight initialisation draws (lib/nn/init.ts): InitRng's stream filled into a host tensor.
#include <cmath>

#include "api/common.h"
#include "cpu/init_rng.h"

using namespace vj;

// initTruncNormal(t, state, spare, std, bound) -> the new spare (a number) or null.
// state: InitRng's Uint32Array(4), advanced in place; spare: its pending Box-Muller value or null.
VJ_BINDING(initTruncNormal) {
  const char* op = "initTruncNormal";
  Args a(info, op);
  Tensor& t = a.tensor(0, "tensor");
  check_dtype(op, "tensor", t, DType::F32);
  check_device(op, "tensor", t, Device::CPU);
  if (a.count() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[1].As<Napi::TypedArray>().ElementLength() != 4)
    fail("initTruncNormal: argument 1 (state) must be a Uint32Array of 4");
  Napi::Uint32Array st = info[1].As<Napi::Uint32Array>();
  cpu::InitRngState s;
  for (int i = 0; i < 4; i++) s.st[i] = st[i];
  s.has_spare = a.count() > 2 && info[2].IsNumber();
  s.spare = s.has_spare ? info[2].As<Napi::Number>().DoubleValue() : 0.0;
  const double sd = a.num(3, "std"), bound = a.num(4, "bound");
  if (!(sd > 0) || !std::isfinite(sd)) fail("initTruncNormal: std must be a positive number, got " + std::to_string(sd));
  // a bound of a few hundredths of std would loop for ever in practice
  if (!(bound >= 0.5 * sd)) fail("initTruncNormal: bound must be at least std / 2, got " + std::to_string(bound) + " for std " + std::to_string(sd));
  cpu::fill_trunc_normal(s, t.f32(), t.numel(), sd, bound);
  for (int i = 0; i < 4; i++) st[i] = s.st[i];
  return s.has_spare ? Napi::Value(Napi::Number::New(info.Env(), s.spare)) : info.Env().Null();
}
