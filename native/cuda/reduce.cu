// Reductions in double where the CPU uses double (bias grads, grad norms, monitors). All are
// two-stage with a grid that depends only on the shape, so results are deterministic.
#include <algorithm>
#include <cmath>

#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/multi_tensor.cuh"
#include "cuda/reduce_util.cuh"

namespace vj::cuda {

namespace {

// part[chunk][c] = sum over the chunk's rows of x[r][c] (and of x^2 when sq is non-null).
__global__ void col_partial_kernel(const float* __restrict__ x, int64_t rows, int64_t cols, int64_t chunk_rows,
                                   double* __restrict__ part, double* __restrict__ part_sq) {
  int64_t c = blockIdx.x * (int64_t)kColTx + threadIdx.x;
  int64_t r0 = blockIdx.y * chunk_rows, r1 = min(rows, r0 + chunk_rows);
  double a = 0, q = 0;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColTy) {
      double v = x[r * cols + c];
      a += v;
      q += v * v;
    }
  write_col_pair(a, q, c, cols, part, part_sq);
}

__global__ void sum_rows_final_kernel(const double* __restrict__ part, int64_t nchunks, int64_t cols, float* out,
                                      bool acc) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    double s = 0;
    for (int64_t k = 0; k < nchunks; k++) s += part[k * cols + c];
    out[c] = (float)((acc ? (double)out[c] : 0.0) + s);
  }
}

__global__ void mean_col_std_final_kernel(const double* __restrict__ part, const double* __restrict__ part_sq,
                                          int64_t nchunks, int64_t rows, int64_t cols, double* result) {
  double total = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    double s = 0, q = 0;
    for (int64_t k = 0; k < nchunks; k++) {
      s += part[k * cols + c];
      q += part_sq[k * cols + c];
    }
    double mu = s / (double)rows;
    double var = fmax(0.0, q / (double)rows - mu * mu);
    total += sqrt(var);
  }
  total = block_sum(total);
  if (threadIdx.x == 0) *result = cols ? total / (double)cols : 0.0;
}

// One partial per block of a multi-tensor batch, at part[base + block].
__global__ void sumsq_partial_kernel(MtBatch<1, 1> b, double* part, int64_t base) {
  const MtChunk c = mt_chunk(b);
  const float* __restrict__ x = static_cast<const float*>(b.ptr[0][c.k]);
  double s = 0;
  for (int64_t i = c.i0 + threadIdx.x; i < c.i1; i += blockDim.x) {
    double v = x[i];
    s += v * v;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) part[base + blockIdx.x] = s;
}

__global__ void sum_doubles_kernel(const double* __restrict__ v, int64_t n, double* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = s;
}

}  // namespace

void sum_doubles(const double* v, int64_t n, double* out, const char* op) {
  sum_doubles_kernel<<<1, 1024, 0, stream()>>>(v, n, out);
  check_launch(op);
}

double read_double(const double* d, const char* op) {
  double h = 0;
  check(cudaMemcpyAsync(&h, d, sizeof(double), cudaMemcpyDeviceToHost, stream()), op);
  sync(op);
  return h;
}

ColPartials::ColPartials(int64_t rows, int64_t cols, bool with_sq)
    : nchunks(std::max<int64_t>(1, (rows + kChunkRows - 1) / kChunkRows)),
      buf((size_t)nchunks * (size_t)cols * sizeof(double) * (with_sq ? 2 : 1)) {
  part = buf.as<double>();
  part_sq = with_sq ? part + nchunks * cols : nullptr;
}

void ColPartials::run(const float* x, int64_t rows, int64_t cols, const char* op) {
  col_partial_kernel<<<grid(cols), block(), 0, stream()>>>(x, rows, cols, kChunkRows, part, part_sq);
  check_launch(op);
}

bool col_sums_empty(int64_t rows, int64_t cols, float* out, bool accumulate, const char* op) {
  if (cols <= 0) return true;
  if (rows <= 0) {
    if (!accumulate) fill(out, cols, 0.f);
    return true;
  }
  if (rows > kChunkRows * 65535) fail(std::string(op) + ": too many rows for the CUDA kernel");
  return false;
}

void col_sums_finish(const ColPartials& cp, int64_t cols, float* out, bool accumulate, const char* op) {
  sum_rows_final_kernel<<<grid_for(cols, 256), 256, 0, stream()>>>(cp.part, cp.nchunks, cols, out, accumulate);
  check_launch(op);
}

namespace {
// x[i], and its bf16 rounding into xb when set.
struct RowsAndCast {
  const float* __restrict__ x;
  uint16_t* __restrict__ xb;
  __device__ __forceinline__ float operator()(int64_t i) const {
    const float v = x[i];
    if (xb) xb[i] = to_bf16(v);
    return v;
  }
};
}  // namespace

// Bias gradients: out[c] (+)= sum_r x[r, c], summed in double; xb gets x in bf16 on the way.
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate, uint16_t* xb) {
  const RowsAndCast v{x, xb};
  col_sums(rows, cols, out, accumulate, "sumRows", [&](dim3 grid, dim3 block, double* part) {
    col_partial_value_kernel<RowsAndCast><<<grid, block, 0, stream()>>>(v, rows, cols, kChunkRows, part);
  });
}

// Sums of squares: one partial per chunk of every tensor (multi_tensor.cuh), then one sum of all
// partials and one read. The grouping is fixed by the sizes, so the result is deterministic.
static double sum_squares_list(const float* const* xs, const int64_t* ns, int64_t count, const char* op) {
  int64_t total = 0;
  for (int64_t k = 0; k < count; k++) total += mt_blocks(ns[k]);
  if (total == 0) return 0.0;
  Scratch buf(sizeof(double) * (size_t)(total + 1));
  double* part = buf.as<double>();
  int64_t base = 0;
  mt_apply<1, 1>(
      ns, count, [&](MtBatch<1, 1>& b, int s, int64_t k) { b.ptr[0][s] = const_cast<float*>(xs[k]); },
      [&](const MtBatch<1, 1>& b, int blocks) {
        sumsq_partial_kernel<<<blocks, kMtThreads, 0, stream()>>>(b, part, base);
        check_launch(op);
        base += blocks;
      });
  sum_doubles(part, total, part + total, op);
  return read_double(part + total, op);
}

double sum_squares(const float* x, int64_t n) { return sum_squares_list(&x, &n, 1, "sumSquares"); }

// Gradient norms: every tensor of the list in one pass and one read.
double sum_squares_many(const float* const* xs, const int64_t* ns, int64_t count) {
  return sum_squares_list(xs, ns, count, "sumSquaresMany");
}

double mean_col_std(const float* x, int64_t rows, int64_t cols) {
  if (cols <= 0) return 0.0;
  if (rows > (int64_t)kChunkRows * 65535) fail("meanColStd: too many rows for the CUDA kernel");
  ColPartials cp(std::max<int64_t>(rows, 1), cols, true);
  cp.run(x, rows, cols, "meanColStd");
  Scratch res(sizeof(double));
  mean_col_std_final_kernel<<<1, 1024, 0, stream()>>>(cp.part, cp.part_sq, cp.nchunks, rows, cols, res.as<double>());
  check_launch("meanColStd");
  return read_double(res.as<double>(), "meanColStd");
}

}  // namespace vj::cuda
