// Elementwise ops, reductions and dtype casts.
#include <vector>

#include "api/common.h"

using namespace vj;

VJ_BINDING(fill) {
  Args a(info, "fill");
  Tensor& x = a.tensor(0, "x");
  float v = (float)a.num(1, "value");
  const Backend& be = same_device("fill", {&x});
  need_f32("fill", {{"x", &x}});
  need(be.fill, be, "fill")(x.f32(), x.numel(), v);
  return info.Env().Undefined();
}

// axpby(x, y|null, out, a, b): out = a x + b y
VJ_BINDING(axpby) {
  Args a(info, "axpby");
  Tensor& x = a.tensor(0, "x");
  Tensor* y = a.opt_tensor(1, "y");
  Tensor& out = a.tensor(2, "out");
  float alpha = (float)a.num(3, "a"), beta = (float)a.num(4, "b");
  const Backend& be = same_device("axpby", {&x, y, &out});
  need_f32("axpby", {{"x", &x}, {"y", y}, {"out", &out}});
  check_numel("axpby", "out", out, x.numel());
  if (y) check_numel("axpby", "y", *y, x.numel());
  need(be.axpby, be, "axpby")(x.f32(), y ? y->f32() : nullptr, out.f32(), x.numel(), alpha, beta);
  return info.Env().Undefined();
}

// addRowvec(x [..., C], v [C] or [rows', C] tiled, out): out = x + v broadcast over leading rows
VJ_BINDING(addRowvec) {
  Args a(info, "addRowvec");
  Tensor &x = a.tensor(0, "x"), &v = a.tensor(1, "v"), &out = a.tensor(2, "out");
  const Backend& be = same_device("addRowvec", {&x, &v, &out});
  need_f32("addRowvec", {{"x", &x}, {"v", &v}, {"out", &out}});
  int64_t cols = v.numel();
  if (cols == 0 || x.numel() % cols) fail("addRowvec: x " + x.desc() + " is not a whole number of rows of v " + v.desc());
  check_numel("addRowvec", "out", out, x.numel());
  need(be.add_rowvec, be, "addRowvec")(x.f32(), v.f32(), out.f32(), x.numel() / cols, cols);
  return info.Env().Undefined();
}

// sumRows(x, out, accumulate, xb?): out[c] (+)= sum over rows of x viewed as [numel/C, C],
// C = out.numel; xb (bfloat16, x's shape), if given, receives x rounded in the same pass.
VJ_BINDING(sumRows) {
  Args a(info, "sumRows");
  Tensor &x = a.tensor(0, "x"), &out = a.tensor(1, "out");
  bool acc = a.boolean(2, "accumulate");
  Tensor* xb = a.opt_tensor(3, "xb");
  const Backend& be = same_device("sumRows", {&x, &out, xb});
  need_f32("sumRows", {{"x", &x}, {"out", &out}});
  if (xb) {
    check_dtype("sumRows", "xb", *xb, DType::BF16);
    check_same_shape("sumRows", "x", x, "xb", *xb);
  }
  int64_t cols = out.numel();
  if (cols == 0 || x.numel() % cols) fail("sumRows: x " + x.desc() + " is not a whole number of rows of out " + out.desc());
  need(be.sum_rows, be, "sumRows")(x.f32(), out.f32(), x.numel() / cols, cols, acc, xb ? xb->ptr<uint16_t>() : nullptr);
  return info.Env().Undefined();
}

VJ_BINDING(sumSquares) {
  Args a(info, "sumSquares");
  Tensor& x = a.tensor(0, "x");
  const Backend& be = same_device("sumSquares", {&x});
  need_f32("sumSquares", {{"x", &x}});
  return Napi::Number::New(info.Env(), need(be.sum_squares, be, "sumSquares")(x.f32(), x.numel()));
}

// sumSquaresMany([x, ...]): sum of every element squared over all the tensors (one device, f32),
// in double; on CUDA one host read for the lot (gradient norms).
VJ_BINDING(sumSquaresMany) {
  const char* op = "sumSquaresMany";
  Args a(info, op);
  std::vector<Tensor*> ts = a.tensors(0, "xs");
  std::vector<int64_t> ns = list_sizes(op, {{"xs", &ts}});
  const Backend& be = lists_device(op, {&ts});
  if (ts.empty()) return Napi::Number::New(info.Env(), 0.0);
  return Napi::Number::New(info.Env(), need(be.sum_squares_many, be, op)(f32_ptrs<const float>(ts).data(), ns.data(), (int64_t)ts.size()));
}

// meanColStd(x [..., C]): mean over C of the std over all leading rows (collapse monitor)
VJ_BINDING(meanColStd) {
  Args a(info, "meanColStd");
  Tensor& x = a.tensor(0, "x");
  const Backend& be = same_device("meanColStd", {&x});
  need_f32("meanColStd", {{"x", &x}});
  int64_t C = last_dim(x);
  return Napi::Number::New(info.Env(), need(be.mean_col_std, be, "meanColStd")(x.f32(), x.numel() / std::max<int64_t>(1, C), C));
}

// castMany(srcs[], dsts[]): dsts[k] = bfloat16(srcs[k]) (float32 -> bfloat16, same element
// counts), in a few launches on CUDA: an autocast region's weights at once.
VJ_BINDING(castMany) {
  const char* op = "castMany";
  Args a(info, op);
  std::vector<Tensor*> s = a.tensors(0, "srcs"), d = a.tensors(1, "dsts");
  if (s.size() != d.size())
    fail(std::string(op) + ": dsts has " + std::to_string(d.size()) + " tensors, srcs has " + std::to_string(s.size()));
  std::vector<const float*> xs;
  std::vector<uint16_t*> ys;
  std::vector<int64_t> ns;
  for (size_t k = 0; k < s.size(); k++) {
    const std::string sk = "srcs[" + std::to_string(k) + "]", dk = "dsts[" + std::to_string(k) + "]";
    check_dtype(op, sk.c_str(), *s[k], DType::F32);
    check_dtype(op, dk.c_str(), *d[k], DType::BF16);
    check_numel(op, dk.c_str(), *d[k], s[k]->numel());
    xs.push_back(s[k]->f32());
    ys.push_back(d[k]->ptr<uint16_t>());
    ns.push_back(s[k]->numel());
  }
  const Backend& be = lists_device(op, {&s, &d});
  need(be.f32_to_bf16_many, be, op)(xs.data(), ys.data(), ns.data(), (int64_t)ns.size());
  return info.Env().Undefined();
}

// cast(src, dst): float32 <-> bfloat16 (same element count)
VJ_BINDING(cast) {
  Args a(info, "cast");
  Tensor &s = a.tensor(0, "src"), &d = a.tensor(1, "dst");
  const Backend& be = same_device("cast", {&s, &d});
  check_numel("cast", "dst", d, s.numel());
  if (s.dtype == DType::F32 && d.dtype == DType::BF16)
    need(be.f32_to_bf16, be, "cast")(s.f32(), d.ptr<uint16_t>(), s.numel());
  else if (s.dtype == DType::BF16 && d.dtype == DType::F32)
    need(be.bf16_to_f32, be, "cast")(s.ptr<uint16_t>(), d.f32(), s.numel());
  else
    fail("cast: only float32 <-> bfloat16 is supported, got " + s.desc() + " -> " + d.desc());
  return info.Env().Undefined();
}
