// Device memory, the stream and error plumbing of the CUDA backend. The runtime is linked
// statically, so the addon loads on machines without a GPU; there the first CUDA call fails
// with the driver's reason.
//
// Allocation goes through a caching allocator: freed blocks are kept per device by size class
// (512-byte steps up to 1 MiB, then quarter-power-of-two steps) and handed out again, best fit
// (block_cache.h), without cudaMalloc/cudaFree (both synchronise the device). Reuse is safe because all kernels are issued on one stream per device, and the
// asynchronous uploads, which run on a copy stream, are ordered against it with events (see
// "asynchronous uploads" below). When cudaMalloc runs out of memory, the cache is released
// and the allocation retried.
// VJEPA_CUDA_NO_CACHE=1 turns the cache off (e.g. for compute-sanitizer).
#include <cuda_runtime.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "block_cache.h"
#include "cuda/common.cuh"
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
bool g_sync_each = env_flag("VJEPA_CUDA_SYNC");
}  // namespace

// The compute stream of device d, created with d current (the current device is restored).
cudaStream_t stream_on(int d) {
  std::lock_guard<std::mutex> lk(g_stream_mu);
  if (!g_streams[d]) {
    int cur = -1;
    cudaGetDevice(&cur);
    if (cur != d) check(cudaSetDevice(d), "cudaSetDevice");
    cudaError_t e = cudaStreamCreateWithFlags(&g_streams[d], cudaStreamDefault);
    if (cur != d && cur >= 0) cudaSetDevice(cur);
    check(e, "cudaStreamCreate");
  }
  return g_streams[d];
}

cudaStream_t stream() { return stream_on(current_device()); }

static std::atomic<uint64_t> g_launches{0};

void count_launch() { g_launches.fetch_add(1, std::memory_order_relaxed); }

void check_launch(const char* op) {
  count_launch();
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
  BlockCache free;
  std::unordered_map<void*, size_t> live;  // pointer -> its block's size class
  size_t reserved = 0;
};

Pool* pools() {
  static Pool* p = new Pool[kMaxDevices];  // never destroyed: tensors may be freed during exit
  return p;
}

bool cache_enabled() {
  static bool on = !env_flag("VJEPA_CUDA_NO_CACHE");
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
  pool.free.drain([&](void* p, size_t cls) {
    cudaFree(p);
    pool.reserved -= cls;
  });
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

int compute_major() {
  static int major[kMaxDevices] = {};
  const int dev = current_device();
  if (!major[dev]) check(cudaDeviceGetAttribute(&major[dev], cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
  return major[dev];
}

}  // namespace cuda

using cuda::check;

bool cuda_compiled() { return true; }

uint64_t cuda_launches() { return cuda::g_launches.load(std::memory_order_relaxed); }

CudaDeviceInfo cuda_device_info(int dev) {
  std::string why = cuda::reason_cached();
  if (!why.empty()) fail(why);
  int n = 0;
  check(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (dev < 0 || dev >= n)
    fail("cuda:" + std::to_string(dev) + " does not exist (" + std::to_string(n) + " device" + (n == 1 ? "" : "s") + ")");
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  CudaDeviceInfo d;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.total_bytes = p.totalGlobalMem;
  return d;
}

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
  BlockCache::Block b = pool.free.take(cls);
  if (b.p) {
    pool.live[b.p] = b.bytes;
    return b.p;
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
  pool.free.put(p, it->second);
  pool.live.erase(it);
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

// ------------------------------------------------------------------ asynchronous uploads
//
// cuda_upload_async stages the host bytes in a pinned buffer (a memcpy on the calling thread,
// so the caller may reuse its array at once) and issues cudaMemcpyAsync on a copy stream of
// its own: the upload of batch i+1 runs while the compute stream works on batch i.
// Ordering, all with events (the host does not wait for the GPU, except past the cap below):
//  - Before the copy, the copy stream waits for a mark recorded on the compute stream now.
//    The destination may be a block the caching allocator handed out again right after a
//    free, or a tensor that queued kernels still read; either way those kernels were issued
//    before this call, so the copy cannot overwrite bytes they still need. Kernels issued
//    after the call are not waited for: that is the overlap.
//  - After the copy an event is recorded and returned; the caller keeps it on the Storage,
//    and the first access through Tensor::raw(), or the storage's release (before its block
//    can go to anyone else), makes the compute stream wait for it (cuda_upload_join).
//  - Each staging buffer has its own event and is handed out again only once it completed.
//  - Two uploads into the same memory are ordered by the copy stream itself.
// Pinned memory is capped by VJEPA_PINNED_MB (default 1024) per device; past the cap an
// upload waits for a busy buffer of its size, or copies synchronously from the caller's memory.

namespace cuda {
namespace {

struct Staging {
  void* host = nullptr;
  size_t cls = 0;
  cudaEvent_t done = nullptr;  // recorded on the copy stream after the copy that read it
  bool busy = false;           // handed out; done not recorded yet
};

struct Uploader {
  std::mutex mu;
  cudaStream_t copy = nullptr;
  cudaEvent_t compute_mark = nullptr;
  std::vector<std::unique_ptr<Staging>> staging;
  std::vector<cudaEvent_t> spare_events;
  size_t pinned_bytes = 0;
  int64_t events_out = 0;  // held by storages, not yet joined or dropped
  uint64_t async_copies = 0, sync_copies = 0;
};

Uploader* uploaders() {
  static Uploader* u = new Uploader[kMaxDevices];  // never destroyed, like the pools
  return u;
}

size_t pinned_limit() {
  static size_t l = [] {
    const char* e = std::getenv("VJEPA_PINNED_MB");
    return (size_t)(e ? std::atoll(e) : 1024) << 20;
  }();
  return l;
}

// 64 KiB minimum (mask index tensors vary in size from batch to batch), then quarter-power-
// of-two steps as in the device allocator.
size_t pinned_class(size_t n) {
  const size_t kMin = size_t(64) << 10;
  if (n <= kMin) return kMin;
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t q = p / 4;
  return (n + q - 1) / q * q;
}

// With u.mu held and the device current.
void init_uploader(Uploader& u) {
  if (!u.copy) check(cudaStreamCreateWithFlags(&u.copy, cudaStreamNonBlocking), "uploadAsync (cudaStreamCreate)");
  if (!u.compute_mark) check(cudaEventCreateWithFlags(&u.compute_mark, cudaEventDisableTiming), "uploadAsync (cudaEventCreate)");
}

cudaEvent_t take_event(Uploader& u) {  // with u.mu held and the device current
  cudaEvent_t e = nullptr;
  if (!u.spare_events.empty()) {
    e = u.spare_events.back();
    u.spare_events.pop_back();
  } else {
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "uploadAsync (cudaEventCreate)");
  }
  u.events_out++;
  return e;
}

void give_event(Uploader& u, cudaEvent_t e) {  // with u.mu held
  u.spare_events.push_back(e);
  u.events_out--;
}

// Frees idle staging buffers (not handed out, last copy finished) until at most `keep` pinned
// bytes remain. With u.mu held.
void release_idle(Uploader& u, size_t keep) {
  for (auto it = u.staging.begin(); it != u.staging.end() && u.pinned_bytes > keep;) {
    Staging& s = **it;
    if (!s.busy && cudaEventQuery(s.done) == cudaSuccess) {
      cudaFreeHost(s.host);
      cudaEventDestroy(s.done);
      u.pinned_bytes -= s.cls;
      it = u.staging.erase(it);
    } else {
      ++it;
    }
  }
  cudaGetLastError();  // a failed query is not this caller's error
}

// A staging buffer of class cls whose last copy has finished, marked busy; nullptr when
// pinned memory cannot be had (the caller then copies synchronously).
Staging* acquire_staging(Uploader& u, size_t cls) {
  std::unique_lock<std::mutex> lk(u.mu);
  Staging* in_flight = nullptr;
  for (auto& s : u.staging) {
    if (s->busy || s->cls != cls) continue;
    cudaError_t q = cudaEventQuery(s->done);
    if (q == cudaSuccess) {
      s->busy = true;
      return s.get();
    }
    if (q != cudaErrorNotReady) check(q, "uploadAsync (cudaEventQuery)");
    if (!in_flight) in_flight = s.get();
  }
  const size_t cap = pinned_limit();
  if (cls > cap) return nullptr;
  if (!in_flight && u.pinned_bytes + cls > cap) {
    // The batch shapes changed: idle buffers of other sizes make room.
    release_idle(u, cap - cls);
  }
  if (u.pinned_bytes + cls <= cap) {
    void* h = nullptr;
    cudaError_t e = cudaHostAlloc(&h, cls, cudaHostAllocPortable);
    if (e == cudaSuccess) {
      cudaEvent_t ev = nullptr;
      cudaError_t e2 = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
      if (e2 != cudaSuccess) {
        cudaFreeHost(h);
        check(e2, "uploadAsync (cudaEventCreate)");
      }
      auto s = std::make_unique<Staging>();
      s->host = h;
      s->cls = cls;
      s->done = ev;
      s->busy = true;
      u.pinned_bytes += cls;
      u.staging.push_back(std::move(s));
      return u.staging.back().get();
    }
    if (e != cudaErrorMemoryAllocation) check(e, "uploadAsync (cudaHostAlloc)");
    cudaGetLastError();  // no page-locked memory left: wait for a busy buffer, or copy synchronously
  }
  if (!in_flight) return nullptr;
  in_flight->busy = true;  // reserved; wait for its copy without holding the lock
  lk.unlock();
  cudaError_t e = cudaEventSynchronize(in_flight->done);
  if (e != cudaSuccess) {
    lk.lock();
    in_flight->busy = false;
    check(e, "uploadAsync (cudaEventSynchronize)");
  }
  return in_flight;
}

}  // namespace
}  // namespace cuda

void* cuda_upload_async(void* dst, const void* src, size_t n, int dev) {
  if (n == 0) return nullptr;
  if (dev < 0 || dev >= cuda::kMaxDevices) fail("uploadAsync: bad device index " + std::to_string(dev));
  int cur = -1;
  cudaGetDevice(&cur);
  if (cur != dev) check(cudaSetDevice(dev), "uploadAsync (cudaSetDevice)");
  cuda::Uploader& u = cuda::uploaders()[dev];
  cudaStream_t compute = cuda::stream_on(dev);
  {
    std::lock_guard<std::mutex> lk(u.mu);
    cuda::init_uploader(u);
  }
  cuda::Staging* st = cuda::acquire_staging(u, cuda::pinned_class(n));
  if (!st) {
    // No pinned memory: the same ordering, from the caller's pageable memory, and wait for it.
    {
      std::lock_guard<std::mutex> lk(u.mu);
      check(cudaEventRecord(u.compute_mark, compute), "uploadAsync (cudaEventRecord)");
      check(cudaStreamWaitEvent(u.copy, u.compute_mark, 0), "uploadAsync (cudaStreamWaitEvent)");
      check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, u.copy), "uploadAsync (cudaMemcpyAsync)");
      u.sync_copies++;
    }
    check(cudaStreamSynchronize(u.copy), "uploadAsync (cudaStreamSynchronize)");
    return nullptr;
  }
  std::memcpy(st->host, src, n);
  std::lock_guard<std::mutex> lk(u.mu);
  cudaEvent_t done = nullptr;
  try {
    check(cudaEventRecord(u.compute_mark, compute), "uploadAsync (cudaEventRecord)");
    check(cudaStreamWaitEvent(u.copy, u.compute_mark, 0), "uploadAsync (cudaStreamWaitEvent)");
    check(cudaMemcpyAsync(dst, st->host, n, cudaMemcpyHostToDevice, u.copy), "uploadAsync (cudaMemcpyAsync)");
    check(cudaEventRecord(st->done, u.copy), "uploadAsync (cudaEventRecord)");
    done = cuda::take_event(u);
    check(cudaEventRecord(done, u.copy), "uploadAsync (cudaEventRecord)");
  } catch (...) {
    // Whatever was issued must finish before the staging buffer can be handed out again.
    cudaStreamSynchronize(u.copy);
    cudaGetLastError();
    if (done) cuda::give_event(u, done);
    st->busy = false;
    throw;
  }
  st->busy = false;
  u.async_copies++;
  return done;
}

void cuda_upload_join(void* event, int dev, bool may_throw) {
  if (!event || dev < 0 || dev >= cuda::kMaxDevices) return;
  cudaEvent_t e = static_cast<cudaEvent_t>(event);
  cudaError_t r = cudaErrorInvalidResourceHandle;
  try {
    r = cudaStreamWaitEvent(cuda::stream_on(dev), e, 0);
  } catch (const std::exception&) {
  }
  if (r != cudaSuccess) {
    cudaGetLastError();
    r = cudaEventSynchronize(e);  // the host waits instead
    if (r != cudaSuccess) cudaGetLastError();
  }
  cuda::Uploader& u = cuda::uploaders()[dev];
  {
    std::lock_guard<std::mutex> lk(u.mu);
    cuda::give_event(u, e);  // cudaStreamWaitEvent captured the record: the event may be reused
  }
  if (r != cudaSuccess && may_throw)
    fail(std::string("cuda: waiting for an asynchronous upload (uploadAsync) failed: ") + cudaGetErrorString(r));
}

void cuda_upload_drop(void* event, int dev) {
  if (!event || dev < 0 || dev >= cuda::kMaxDevices) return;
  cuda::Uploader& u = cuda::uploaders()[dev];
  std::lock_guard<std::mutex> lk(u.mu);
  cuda::give_event(u, static_cast<cudaEvent_t>(event));
}

CudaUploadStats cuda_upload_stats(int dev) {
  CudaUploadStats st;
  if (dev < 0 || dev >= cuda::kMaxDevices) return st;
  cuda::Uploader& u = cuda::uploaders()[dev];
  std::lock_guard<std::mutex> lk(u.mu);
  st.pinned_bytes = u.pinned_bytes;
  st.pinned_buffers = u.staging.size();
  st.events_out = u.events_out;
  st.async_copies = u.async_copies;
  st.sync_copies = u.sync_copies;
  return st;
}

void cuda_empty_cache() {
  int cur = -1;
  for (int d = 0; d < cuda::kMaxDevices; d++) {
    cuda::Pool& pool = cuda::pools()[d];
    std::lock_guard<std::mutex> lk(pool.mu);
    if (pool.free.bytes() == 0) continue;  // a device never used is not woken up
    if (cur < 0) cudaGetDevice(&cur);
    cudaSetDevice(d);
    cudaDeviceSynchronize();  // queued kernels may still read a cached block
    cuda::release_cached(pool);
  }
  if (cur >= 0) cudaSetDevice(cur);
  // Idle staging buffers too: release_idle frees only those whose copy has completed.
  for (int d = 0; d < cuda::kMaxDevices; d++) {
    cuda::Uploader& u = cuda::uploaders()[d];
    std::lock_guard<std::mutex> lk(u.mu);
    if (!u.staging.empty()) cuda::release_idle(u, 0);
  }
  cudaGetLastError();
}

CudaCacheStats cuda_cache_stats(int dev) {
  CudaCacheStats st;
  for (int d = 0; d < cuda::kMaxDevices; d++) {
    if (dev >= 0 && d != dev) continue;
    cuda::Pool& pool = cuda::pools()[d];
    std::lock_guard<std::mutex> lk(pool.mu);
    st.reserved_bytes += pool.reserved;
    st.cached_bytes += pool.free.bytes();
  }
  return st;
}

}  // namespace vj
