// Shared plumbing of the CUDA backend: the stream, launch checks, scratch buffers, deferred
// (in-kernel) error flags and launch-size helpers. Included by every native/cuda/*.cu file.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "backend.h"
#include "cuda/bf16.cuh"
#include "device.h"

namespace vj::cuda {

constexpr int kMaxDevices = 16;

// The backend's on/off switches: whether environment variable name is set and starts with '1'.
inline bool env_flag(const char* name) {
  const char* e = std::getenv(name);
  return e && e[0] == '1';
}

int current_device();
// The current device's compute capability major version (cached per device).
int compute_major();
// The backend's stream on the current device (created on first use; a blocking stream, so it
// is also ordered with the legacy default stream).
cudaStream_t stream();
// The compute stream of device d, whichever device is current.
cudaStream_t stream_on(int d);

// cuda error -> vj::Error "cuda <what>: <error string>".
void check(cudaError_t e, const char* what);
// After a kernel launch: the launch error (if any) named by op; with VJEPA_CUDA_SYNC=1 it also
// synchronises, so that an asynchronous fault is reported against the op that caused it.
void check_launch(const char* op);
// Counts one launch for cudaInfo().launches where no check_launch follows (a cuBLASLt call).
void count_launch();
// Synchronises the stream and raises any deferred error; used before returning host scalars.
void sync(const char* op);

// Flags that kernels set when they meet bad input they cannot report synchronously (an index
// out of range). Host-mapped memory: kernels write it, the host reads it after a sync.
enum ErrorCode : int { kErrGatherIndex = 0, kErrScatterIndex, kErrUnfoldIndex, kErrLabel, kNumErrors };
int* error_flags();  // device-visible pointer to kNumErrors ints (each: first bad position + 1, or 0)
// Reads and clears the flags (call after a sync); throws a message naming the op when one is set.
void raise_deferred();

// Scratch device memory from the caching allocator, freed (returned to the cache) at scope
// exit; safe because every kernel runs on the one stream.
struct Scratch {
  void* p = nullptr;
  int dev = 0;
  explicit Scratch(size_t nbytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p); }
};

// Raises a kernel's dynamic shared-memory limit, once per device (one flag set per kernel).
template <auto Kernel>
void raise_smem_limit(size_t smem, const char* op) {
  static bool done[kMaxDevices] = {};
  int dev = current_device();
  if (done[dev]) return;
  cudaError_t e = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail(std::string(op) + ": cannot use " + std::to_string(smem) + " bytes of shared memory per block: " +
         cudaGetErrorString(e));
  }
  done[dev] = true;
}

// Blocks for a grid-stride loop over n items.
inline unsigned grid_for(int64_t n, int threads, int64_t cap = 65536) {
  int64_t g = (n + threads - 1) / threads;
  if (g < 1) g = 1;
  if (g > cap) g = cap;
  return (unsigned)g;
}

// Device helpers.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); the result is valid
// in thread 0. Fixed order, so deterministic.
template <class T>
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T part[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part may still be read by a previous call
  if (lane == 0) part[w] = v;
  __syncthreads();
  T r = 0;
  if (w == 0) {
    r = lane < (int)(blockDim.x >> 5) ? part[lane] : T(0);
    r = warp_sum(r);
  }
  return r;
}

}  // namespace vj::cuda
