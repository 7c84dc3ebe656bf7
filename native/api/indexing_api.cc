// Masked gather / scatter-add along tokens, and block copies (concat, slice, repeat).
#include "api/common.h"

using namespace vj;

static void check_indices(const char* op, const Tensor& idx, int64_t B, int64_t N) {
  check_dtype(op, "idx", idx, DType::I32);
  check_shape(op, "idx", idx, {B, -1});
  if (idx.device() == Device::CPU) {
    const int32_t* ip = idx.ptr<int32_t>();
    for (int64_t i = 0; i < idx.numel(); i++)
      if (ip[i] < 0 || ip[i] >= N)
        fail(std::string(op) + ": index " + std::to_string(ip[i]) + " at position " + std::to_string(i) + " is outside [0, " + std::to_string(N) + ")");
  }
}

// gatherRows(x [Bx,N,D], idx [B,K], out [B,K,D]); Bx is B or 1 (broadcast)
VJ_BINDING(gatherRows) {
  Args a(info, "gatherRows");
  const char* op = "gatherRows";
  Tensor &x = a.tensor(0, "x"), &idx = a.tensor(1, "idx"), &out = a.tensor(2, "out");
  const Backend& be = same_device(op, {&x, &idx, &out});
  need_f32(op, {{"x", &x}, {"out", &out}});
  if (x.dim() != 3 || out.dim() != 3) fail(std::string(op) + ": x and out must be 3-D, got " + x.desc() + ", " + out.desc());
  int64_t B = out.shape[0], K = out.shape[1], D = out.shape[2], N = x.shape[1];
  if (x.shape[0] != B && x.shape[0] != 1) fail(std::string(op) + ": x " + x.desc() + " batch must be " + std::to_string(B) + " or 1");
  check_shape(op, "x", x, {x.shape[0], N, D});
  check_indices(op, idx, B, N);
  check_shape(op, "idx", idx, {B, K});
  need(be.gather_rows, be, op)(x.f32(), idx.ptr<int32_t>(), out.f32(), B, x.shape[0], N, K, D);
  return info.Env().Undefined();
}

// scatterAddRows(dout [B,K,D], idx [B,K], dx [Bx,N,D]): dx rows += dout rows
VJ_BINDING(scatterAddRows) {
  Args a(info, "scatterAddRows");
  const char* op = "scatterAddRows";
  Tensor &dout = a.tensor(0, "dout"), &idx = a.tensor(1, "idx"), &dx = a.tensor(2, "dx");
  const Backend& be = same_device(op, {&dout, &idx, &dx});
  need_f32(op, {{"dout", &dout}, {"dx", &dx}});
  if (dx.dim() != 3 || dout.dim() != 3) fail(std::string(op) + ": dout and dx must be 3-D, got " + dout.desc() + ", " + dx.desc());
  int64_t B = dout.shape[0], K = dout.shape[1], D = dout.shape[2], N = dx.shape[1];
  if (dx.shape[0] != B && dx.shape[0] != 1) fail(std::string(op) + ": dx " + dx.desc() + " batch must be " + std::to_string(B) + " or 1");
  check_shape(op, "dx", dx, {dx.shape[0], N, D});
  check_indices(op, idx, B, N);
  check_shape(op, "idx", idx, {B, K});
  need(be.scatter_add_rows, be, op)(dout.f32(), idx.ptr<int32_t>(), dx.f32(), B, dx.shape[0], N, K, D);
  return info.Env().Undefined();
}

// copyBlocks(src, srcOff, dst, dstOff, outer, inner, srcStride, dstStride, accumulate), all in elements
VJ_BINDING(copyBlocks) {
  Args a(info, "copyBlocks");
  const char* op = "copyBlocks";
  Tensor& src = a.tensor(0, "src");
  int64_t so = a.i64(1, "srcOff");
  Tensor& dst = a.tensor(2, "dst");
  int64_t d_o = a.i64(3, "dstOff");
  int64_t outer = a.i64(4, "outer"), inner = a.i64(5, "inner"), ss = a.i64(6, "srcStride"), ds = a.i64(7, "dstStride");
  bool acc = a.boolean(8, "accumulate");
  const Backend& be = same_device(op, {&src, &dst});
  need_f32(op, {{"src", &src}, {"dst", &dst}});
  if (outer < 0 || inner < 0 || so < 0 || d_o < 0 || ss < 0 || ds < 0) fail(std::string(op) + ": negative size or offset");
  if (outer > 0 && inner > 0) {
    if (so + (outer - 1) * ss + inner > src.numel())
      fail(std::string(op) + ": reads past the end of src " + src.desc());
    if (d_o + (outer - 1) * ds + inner > dst.numel())
      fail(std::string(op) + ": writes past the end of dst " + dst.desc());
    need(be.copy_blocks, be, op)(src.f32() + so, dst.f32() + d_o, outer, inner, ss, ds, acc);
  }
  return info.Env().Undefined();
}
