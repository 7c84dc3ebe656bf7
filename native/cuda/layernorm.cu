// LayerNorm over the last dim: one warp per row (two passes in float: mean, then centred
// variance, as the CPU does). The backward writes dx per row, and accumulates dw/db
// deterministically: per-(row chunk, column) partials in double, then an in-order sum.
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace vj::cuda {

namespace {
constexpr int kWarps = 8;

// Out: float, or uint16_t for a bf16 y (mixed precision), rounded from the same fp32 value.
template <class Out>
__global__ void ln_fwd_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                              Out* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd, int64_t rows,
                              int64_t cols, float eps) {
  int lane = threadIdx.x & 31;
  int64_t r = blockIdx.x * (int64_t)kWarps + (threadIdx.x >> 5);
  if (r >= rows) return;
  const float* xr = x + r * cols;
  float s = 0.f;
  for (int64_t c = lane; c < cols; c += 32) s += xr[c];
  float mu = warp_sum(s) / (float)cols;
  float v = 0.f;
  for (int64_t c = lane; c < cols; c += 32) {
    float d = xr[c] - mu;
    v += d * d;
  }
  float rs = 1.f / sqrtf(warp_sum(v) / (float)cols + eps);
  if (lane == 0) {
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
  Out* yr = y + r * cols;
  for (int64_t c = lane; c < cols; c += 32) store(yr + c, (xr[c] - mu) * rs * (w ? w[c] : 1.f) + (b ? b[c] : 0.f));
}

// Dy: float, or uint16_t for a bf16 dy (mixed precision), widened as it is read.
template <class Dy>
__global__ void ln_bwd_dx_kernel(const Dy* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ mean, const float* __restrict__ rstd, float* __restrict__ dx,
                                 int64_t rows, int64_t cols, bool acc) {
  int lane = threadIdx.x & 31;
  int64_t r = blockIdx.x * (int64_t)kWarps + (threadIdx.x >> 5);
  if (r >= rows) return;
  const float* xr = x + r * cols;
  const Dy* dyr = dy + r * cols;
  float mu = mean[r], rs = rstd[r];
  float sg = 0.f, sgx = 0.f;
  for (int64_t c = lane; c < cols; c += 32) {
    float xh = (xr[c] - mu) * rs;
    float g = load(dyr + c) * (w ? w[c] : 1.f);
    sg += g;
    sgx += g * xh;
  }
  sg = warp_sum(sg);
  sgx = warp_sum(sgx);
  const float inv = 1.f / (float)cols;
  float* dxr = dx + r * cols;
  for (int64_t c = lane; c < cols; c += 32) {
    float xh = (xr[c] - mu) * rs;
    float g = load(dyr + c) * (w ? w[c] : 1.f);
    const float d = rs * (g - inv * sg - xh * inv * sgx);
    dxr[c] = acc ? dxr[c] + d : d;
  }
}

// part_w[chunk][c] = sum dy * xhat, part_b[chunk][c] = sum dy over the chunk's rows.
template <class Dy>
__global__ void ln_bwd_wb_partial_kernel(const Dy* __restrict__ dy, const float* __restrict__ x,
                                         const float* __restrict__ mean, const float* __restrict__ rstd, int64_t rows,
                                         int64_t cols, int64_t chunk_rows, double* __restrict__ part_w,
                                         double* __restrict__ part_b) {
  int64_t c = blockIdx.x * (int64_t)kColTx + threadIdx.x;
  int64_t r0 = blockIdx.y * chunk_rows, r1 = min(rows, r0 + chunk_rows);
  double a = 0, q = 0;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColTy) {
      float g = load(dy + r * cols + c);
      float xh = (x[r * cols + c] - mean[r]) * rstd[r];
      a += (double)(g * xh);
      q += (double)g;
    }
  write_col_pair(a, q, c, cols, part_w, part_b);
}

__global__ void ln_bwd_wb_final_kernel(const double* __restrict__ part_w, const double* __restrict__ part_b,
                                       int64_t nchunks, int64_t cols, float* dw, float* db) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    double t = 0, u = 0;
    for (int64_t k = 0; k < nchunks; k++) {
      t += part_w[k * cols + c];
      u += part_b[k * cols + c];
    }
    if (dw) dw[c] = (float)((double)dw[c] + t);
    if (db) db[c] = (float)((double)db[c] + u);
  }
}
}  // namespace

void layernorm_fwd(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                   int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
  ln_fwd_kernel<float><<<blocks, kWarps * 32, 0, stream()>>>(x, w, b, y, mean, rstd, rows, cols, eps);
  check_launch("layernormFwd");
}

void layernorm_fwd_bf16(const float* x, const float* w, const float* b, uint16_t* y, float* mean, float* rstd,
                        int64_t rows, int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
  ln_fwd_kernel<uint16_t><<<blocks, kWarps * 32, 0, stream()>>>(x, w, b, y, mean, rstd, rows, cols, eps);
  check_launch("layernormFwd (bf16 out)");
}

namespace {
template <class Dy>
void layernorm_bwd_t(const Dy* dy, const float* x, const float* w, const float* mean, const float* rstd, float* dx,
                     float* dw, float* db, int64_t rows, int64_t cols, bool accumulate_dx) {
  unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
  ln_bwd_dx_kernel<Dy><<<blocks, kWarps * 32, 0, stream()>>>(dy, x, w, mean, rstd, dx, rows, cols, accumulate_dx);
  check_launch("layernormBwd");
  if (!dw && !db) return;
  int64_t nchunks = std::max<int64_t>(1, (rows + kChunkRows - 1) / kChunkRows);
  if (nchunks > 65535) fail("layernormBwd: too many rows for the CUDA kernel");
  Scratch part((size_t)nchunks * (size_t)cols * 2 * sizeof(double));
  double* pw = part.as<double>();
  double* pb = pw + nchunks * cols;
  dim3 grid((unsigned)((cols + kColTx - 1) / kColTx), (unsigned)nchunks), block(kColTx, kColTy);
  ln_bwd_wb_partial_kernel<Dy><<<grid, block, 0, stream()>>>(dy, x, mean, rstd, rows, cols, kChunkRows, pw, pb);
  check_launch("layernormBwd");
  ln_bwd_wb_final_kernel<<<grid_for(cols, 256), 256, 0, stream()>>>(pw, pb, nchunks, cols, dw, db);
  check_launch("layernormBwd");
}
}  // namespace

void layernorm_bwd(const float* dy, const uint16_t* dy16, const float* x, const float* w, const float* mean,
                   const float* rstd, float* dx, float* dw, float* db, int64_t rows, int64_t cols, bool accumulate_dx) {
  if (rows <= 0 || cols <= 0) return;
  if (dy16) layernorm_bwd_t(dy16, x, w, mean, rstd, dx, dw, db, rows, cols, accumulate_dx);
  else layernorm_bwd_t(dy, x, w, mean, rstd, dx, dw, db, rows, cols, accumulate_dx);
}

}  // namespace vj::cuda
