// Helpers shared by the reduction files: column partial sums, an in-order sum of doubles and
// reading one double back to the host.
#pragma once
#include "cuda/common.cuh"

namespace vj::cuda {

constexpr int kColTx = 32, kColTy = 8;
constexpr int64_t kChunkRows = 256;

// The block's last step of a column-partial kernel (blocks of kColTx x kColTy threads, column c
// per threadIdx.x): each thread's two running sums a, q are summed over the block's kColTy rows of
// threads, in order, and written to out_a, out_q (q skipped when null) at [blockIdx.y * cols + c].
__device__ __forceinline__ void write_col_pair(double a, double q, int64_t c, int64_t cols, double* out_a,
                                               double* out_q) {
  __shared__ double s1[kColTy][kColTx + 1], s2[kColTy][kColTx + 1];
  s1[threadIdx.y][threadIdx.x] = a;
  s2[threadIdx.y][threadIdx.x] = q;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double t = 0, u = 0;
    for (int y = 0; y < kColTy; y++) {
      t += s1[y][threadIdx.x];
      u += s2[y][threadIdx.x];
    }
    out_a[blockIdx.y * cols + c] = t;
    if (out_q) out_q[blockIdx.y * cols + c] = u;
  }
}

// Per-(row chunk, column) double sums of x (and x^2), rows split into kChunkRows chunks.
struct ColPartials {
  int64_t nchunks;
  Scratch buf;
  double* part = nullptr;
  double* part_sq = nullptr;
  ColPartials(int64_t rows, int64_t cols, bool with_sq);
  void run(const float* x, int64_t rows, int64_t cols, const char* op);
  dim3 grid(int64_t cols) const { return dim3((unsigned)((cols + kColTx - 1) / kColTx), (unsigned)nchunks); }
  static dim3 block() { return dim3(kColTx, kColTy); }
};

// Column sums of a matrix computed on the fly: value(i) is element i = r * cols + c, and may store
// what its op writes of it (a bf16 copy, a gradient), so the op and the sums take one pass.
template <class Value>
__global__ void col_partial_value_kernel(Value value, int64_t rows, int64_t cols, int64_t chunk_rows, double* part) {
  const int64_t c = blockIdx.x * (int64_t)kColTx + threadIdx.x;
  const int64_t r0 = blockIdx.y * chunk_rows, r1 = min(rows, r0 + chunk_rows);
  double a = 0;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColTy) a += value(r * cols + c);
  write_col_pair(a, 0, c, cols, part, nullptr);
}

// col_sums' parts, in reduce.cu: the shapes with nothing to sum (out zeroed unless accumulating;
// more rows than the grid holds refused), and the chunk partials of column c added into out[c] in
// chunk order, so the result depends only on the shape.
bool col_sums_empty(int64_t rows, int64_t cols, float* out, bool accumulate, const char* op);
void col_sums_finish(const ColPartials& cp, int64_t cols, float* out, bool accumulate, const char* op);

// out[c] (+)= sum_r value(r * cols + c): launch(grid, block, part) launches
// col_partial_value_kernel for the value over that grid (the launch is written in the .cu file,
// where the emulator's build rewrites launches, as mt_apply's callers do), then the partials are
// summed.
template <class Launch>
void col_sums(int64_t rows, int64_t cols, float* out, bool accumulate, const char* op, Launch launch) {
  if (col_sums_empty(rows, cols, out, accumulate, op)) return;
  ColPartials cp(rows, cols, false);
  launch(cp.grid(cols), ColPartials::block(), cp.part);
  check_launch(op);
  col_sums_finish(cp, cols, out, accumulate, op);
}

// *out = sum of v[0..n) in a fixed order (one block), on the stream.
void sum_doubles(const double* v, int64_t n, double* out, const char* op);

// Copies one device double to the host (synchronises and raises deferred errors).
double read_double(const double* d, const char* op);

}  // namespace vj::cuda
