// Multi-tensor launches (torch's multi_tensor_apply): the tensors of a list go to a kernel in
// batches whose pointers, sizes and per-tensor factors travel in the kernel's parameter block,
// and each block of the grid works on one chunk of one tensor. The ~400 parameters of a ViT-L
// take 9 launches instead of 400; a launch costs the host a few microseconds whatever its size,
// and the optimizer runs while the GPU has nothing else queued.
#pragma once
#include "cuda/common.cuh"

namespace vj::cuda {

constexpr int kMtTensors = 48;    // per launch: keeps the parameter block well under its 4 KB limit
constexpr int kMtChunk = 16384;   // elements per block: 64 per thread
constexpr int kMtThreads = 256;

// P pointers and A float factors per tensor.
template <int P, int A>
struct MtBatch {
  void* ptr[P][kMtTensors];
  int64_t n[kMtTensors];
  float arg[A][kMtTensors];
  int first_block[kMtTensors + 1];  // blocks [first_block[k], first_block[k + 1]) work on tensor k
  int count;
};

struct MtChunk {
  int k;
  int64_t i0, i1;
};

// This block's tensor and element range.
template <int P, int A>
__device__ __forceinline__ MtChunk mt_chunk(const MtBatch<P, A>& b) {
  const int blk = (int)blockIdx.x;
  int lo = 0, hi = b.count - 1;  // the last k with first_block[k] <= blk
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (b.first_block[mid] <= blk) lo = mid;
    else hi = mid - 1;
  }
  const int64_t i0 = (int64_t)(blk - b.first_block[lo]) * kMtChunk;
  return {lo, i0, min(b.n[lo], i0 + (int64_t)kMtChunk)};
}

inline int mt_blocks(int64_t n) { return n > 0 ? (int)((n + kMtChunk - 1) / kMtChunk) : 0; }

// Packs the non-empty tensors of a list into batches, in order: add(batch, slot, k) sets the
// slot's pointers and factors for tensor k; launch(batch, blocks) runs each full batch and the last.
template <int P, int A, class Add, class Launch>
void mt_apply(const int64_t* ns, int64_t count, Add add, Launch launch) {
  MtBatch<P, A> b;
  b.count = 0;
  int blocks = 0;
  auto flush = [&] {
    if (!b.count) return;
    b.first_block[b.count] = blocks;
    launch(b, blocks);
    b.count = 0;
    blocks = 0;
  };
  for (int64_t k = 0; k < count; k++) {
    if (ns[k] <= 0) continue;
    if (b.count == kMtTensors) flush();
    add(b, b.count, k);
    b.n[b.count] = ns[k];
    b.first_block[b.count] = blocks;
    blocks += mt_blocks(ns[k]);
    b.count++;
  }
  flush();
}

}  // namespace vj::cuda
