// Helpers shared by the reduction files: column partial sums, an in-order sum of doubles and
// reading one double back to the host.
#pragma once
#include "cuda/common.cuh"

namespace vj::cuda {

constexpr int kColTx = 32, kColTy = 8;
constexpr int64_t kChunkRows = 256;

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
