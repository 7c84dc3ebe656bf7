// Device memory, the stream and error plumbing of the CUDA backend. The runtime is linked
// statically, so the addon loads on machines without a GPU; there the first CUDA call fails
// with the driver's reason.
//
// Allocation goes through a caching allocator: freed blocks are kept in per-device free lists
// keyed by size class (512-byte steps up to 1 MiB, then quarter-power-of-two steps, so at most
// 25% is wasted) and handed out again without cudaMalloc/cudaFree (both synchronise the
// device). Reuse is safe because all work is issued on one stream per device. When cudaMalloc
// runs out of memory, the cache is released and the allocation retried.
// VJEPA_CUDA_NO_CACHE=1 turns the cache off (e.g. for compute-sanitizer).
#include <cuda_runtime.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "cuda/common.cuh"
#include "cuda/extras.h"
#include "device.h"

namespace vj {

namespace cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls are not blamed for it
    fail(std::string("cuda ") + what + ": " + cudaGetErrorString(e));
  }
}

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  if (d < 0 || d >= kMaxDevices) fail("cuda: device index " + std::to_string(d) + " is beyond the supported " + std::to_string(kMaxDevices));
  return d;
}

namespace {
std::mutex g_stream_mu;
cudaStream_t g_streams[kMaxDevices] = {};
bool g_sync_each = [] {
  const char* e = std::getenv("VJEPA_CUDA_SYNC");
  return e && e[0] == '1';
}();
}  // namespace

cudaStream_t stream() {
  int d = current_device();
  std::lock_guard<std::mutex> lk(g_stream_mu);
  if (!g_streams[d]) check(cudaStreamCreateWithFlags(&g_streams[d], cudaStreamDefault), "cudaStreamCreate");
  return g_streams[d];
}

void check_launch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(std::string(op) + ": CUDA kernel launch failed: " + cudaGetErrorString(e));
  if (g_sync_each) {
    e = cudaStreamSynchronize(stream());
    if (e != cudaSuccess) fail(std::string(op) + ": CUDA kernel failed: " + cudaGetErrorString(e));
    raise_deferred();
  }
}

void sync(const char* op) {
  cudaError_t e = cudaStreamSynchronize(stream());
  if (e != cudaSuccess) fail(std::string(op) + ": CUDA error (possibly from an earlier op): " + cudaGetErrorString(e));
  raise_deferred();
}

namespace {
int* g_flags = nullptr;  // host-mapped
std::mutex g_flags_mu;
}  // namespace

int* error_flags() {
  std::lock_guard<std::mutex> lk(g_flags_mu);
  if (!g_flags) {
    void* p = nullptr;
    check(cudaHostAlloc(&p, sizeof(int) * kNumErrors, cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc");
    g_flags = static_cast<int*>(p);
    for (int i = 0; i < kNumErrors; i++) g_flags[i] = 0;
  }
  return g_flags;  // unified addressing: the host pointer is valid on the device
}

void raise_deferred() {
  int got[kNumErrors];
  {
    std::lock_guard<std::mutex> lk(g_flags_mu);
    if (!g_flags) return;
    for (int i = 0; i < kNumErrors; i++) {
      got[i] = ((volatile int*)g_flags)[i];
      g_flags[i] = 0;
    }
  }
  static const char* what[kNumErrors] = {
      "gatherRows: an index was outside [0, N)",
      "scatterAddRows: an index was outside [0, N)",
      "unfoldTubelets: a token index was outside [0, N)",
      "crossEntropy: a label was outside [0, classes)",
  };
  for (int i = 0; i < kNumErrors; i++)
    if (got[i])
      fail(std::string(what[i]) + " at flat position " + std::to_string(got[i] - 1) +
           " (found on the GPU; the offending rows were skipped)");
}

// ------------------------------------------------------------------ caching allocator

namespace {

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  std::unordered_map<void*, size_t> live;  // pointer -> size class
  size_t cached = 0, reserved = 0;
};

Pool* pools() {
  static Pool* p = new Pool[kMaxDevices];  // never destroyed: tensors may be freed during exit
  return p;
}

bool cache_enabled() {
  static bool on = [] {
    const char* e = std::getenv("VJEPA_CUDA_NO_CACHE");
    return !(e && e[0] == '1');
  }();
  return on;
}

size_t size_class(size_t n) {
  if (n <= (1u << 20)) return (n + 511) / 512 * 512;
  size_t p = 1u << 20;
  while (p * 2 <= n) p *= 2;  // p <= n < 2p
  size_t q = p / 4;
  return (n + q - 1) / q * q;
}

void release_cached(Pool& pool) {  // with pool.mu held
  for (auto& [cls, list] : pool.free_lists) {
    for (void* p : list) {
      cudaFree(p);
      pool.cached -= cls;
      pool.reserved -= cls;
    }
    list.clear();
  }
}

}  // namespace

std::string reason_cached() {
  static std::once_flag once;
  static std::string why;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      why = std::string("CUDA is unavailable: ") + cudaGetErrorString(e);
      cudaGetLastError();
    } else if (n == 0) {
      why = "CUDA is unavailable: no CUDA device was found";
    }
  });
  return why;
}

Scratch::Scratch(size_t nbytes) {
  dev = current_device();
  p = cuda_alloc(nbytes == 0 ? 4 : nbytes, dev);
}
Scratch::~Scratch() { cuda_free(p, dev); }

}  // namespace cuda

using cuda::check;

bool cuda_compiled() { return true; }

std::string cuda_unavailable_reason() { return cuda::reason_cached(); }

void* cuda_alloc(size_t nbytes, int dev) {
  std::string why = cuda::reason_cached();
  if (!why.empty()) fail(why);
  if (dev < 0 || dev >= cuda::kMaxDevices) fail("cuda: bad device index " + std::to_string(dev));
  int cur = -1;
  cudaGetDevice(&cur);
  if (cur != dev) check(cudaSetDevice(dev), "cudaSetDevice");
  if (!cuda::cache_enabled()) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, nbytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      fail("cuda: out of memory allocating " + std::to_string(nbytes) + " bytes on cuda:" + std::to_string(dev));
    }
    check(e, "cudaMalloc");
    return p;
  }
  cuda::Pool& pool = cuda::pools()[dev];
  size_t cls = cuda::size_class(nbytes);
  std::lock_guard<std::mutex> lk(pool.mu);
  auto it = pool.free_lists.find(cls);
  if (it != pool.free_lists.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    pool.cached -= cls;
    pool.live[p] = cls;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, cls);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    cuda::release_cached(pool);  // cudaFree synchronises, so cached blocks are idle
    e = cudaMalloc(&p, cls);
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    fail("cuda: out of memory allocating " + std::to_string(nbytes) + " bytes on cuda:" + std::to_string(dev) +
         " (" + std::to_string(pool.reserved) + " bytes already held by the allocator)");
  }
  check(e, "cudaMalloc");
  pool.reserved += cls;
  pool.live[p] = cls;
  return p;
}

void cuda_free(void* p, int dev) {
  if (!p) return;
  if (!cuda::cache_enabled() || dev < 0 || dev >= cuda::kMaxDevices) {
    cudaFree(p);
    return;
  }
  cuda::Pool& pool = cuda::pools()[dev];
  std::lock_guard<std::mutex> lk(pool.mu);
  auto it = pool.live.find(p);
  if (it == pool.live.end()) {
    cudaFree(p);
    return;
  }
  size_t cls = it->second;
  pool.live.erase(it);
  pool.free_lists[cls].push_back(p);
  pool.cached += cls;
}

void cuda_copy_h2d(void* dst, const void* src, size_t n, int dev) {
  if (n == 0) return;
  cudaStream_t s = cuda::stream();
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s), "copy to device");
  check(cudaStreamSynchronize(s), "copy to device (sync)");  // the source is pageable JS memory
}

void cuda_copy_d2h(void* dst, const void* src, size_t n, int dev) {
  if (n == 0) return;
  cudaStream_t s = cuda::stream();
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s), "copy to host");
  cuda::sync("copy to host");
}

void cuda_copy_d2d(void* dst, const void* src, size_t n, int dev) {
  if (n == 0 || dst == src) return;
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, cuda::stream()), "device copy");
}

void cuda_memset0(void* dst, size_t n, int dev) {
  if (n == 0) return;
  check(cudaMemsetAsync(dst, 0, n, cuda::stream()), "memset");
}

// extras.h
void cuda_empty_cache() {
  if (!cuda::cache_enabled()) return;
  cudaDeviceSynchronize();
  for (int d = 0; d < cuda::kMaxDevices; d++) {
    cuda::Pool& pool = cuda::pools()[d];
    std::lock_guard<std::mutex> lk(pool.mu);
    cuda::release_cached(pool);
  }
}

CudaCacheStats cuda_cache_stats(int dev) {
  CudaCacheStats st;
  if (dev < 0 || dev >= cuda::kMaxDevices) return st;
  cuda::Pool& pool = cuda::pools()[dev];
  std::lock_guard<std::mutex> lk(pool.mu);
  st.reserved_bytes = pool.reserved;
  st.cached_bytes = pool.cached;
  return st;
}

}  // namespace vj
