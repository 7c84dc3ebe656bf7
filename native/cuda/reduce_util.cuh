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
};

// *out = sum of v[0..n) in a fixed order (one block), on the stream.
void sum_doubles(const double* v, int64_t n, double* out, const char* op);

// Copies one device double to the host (synchronises and raises deferred errors).
double read_double(const double* d, const char* op);

}  // namespace vj::cuda
