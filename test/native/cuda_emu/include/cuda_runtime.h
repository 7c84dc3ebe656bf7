// Emulated <cuda_runtime.h> for the CPU build of the CUDA backend (VJEPA_CUDA_EMU): "device"
// memory is host memory, every call completes before it returns (so streams and events only
// keep their bookkeeping), and kernels run through ../cuda_emu.h. Fresh allocations are filled
// with NaN bytes, as real device memory holds garbage. VJEPA_EMU_DEVICES sets the device count
// (default 1).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../cuda_emu.h"

typedef enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
} cudaError_t;

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97, cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0, cudaHostAllocPortable = 1, cudaHostAllocMapped = 2;

namespace vj_emu {
inline thread_local cudaError_t t_last = cudaSuccess;
inline thread_local int t_device = 0;
inline int device_count() {
  const char* e = std::getenv("VJEPA_EMU_DEVICES");
  return e ? std::atoi(e) : 1;
}
inline cudaError_t fail_with(cudaError_t e) { return t_last = e; }
struct Handle {
  int device;
};
inline void* alloc(size_t n, bool poison) {
  void* p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  if (p && poison) std::memset(p, 0xff, n);
  return p;
}
}  // namespace vj_emu

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
  }
  return "unknown error";
}
inline cudaError_t cudaPeekAtLastError() {
  return vj_emu::t_launch_refused && vj_emu::t_last == cudaSuccess ? cudaErrorInvalidValue : vj_emu::t_last;
}
inline cudaError_t cudaGetLastError() {
  cudaError_t e = cudaPeekAtLastError();
  vj_emu::t_last = cudaSuccess;
  vj_emu::t_launch_refused = false;
  return e;
}
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = vj_emu::device_count();
  return *n > 0 ? cudaSuccess : vj_emu::fail_with(cudaErrorNoDevice);
}
inline cudaError_t cudaGetDevice(int* d) {
  *d = vj_emu::t_device;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= vj_emu::device_count()) return vj_emu::fail_with(cudaErrorInvalidDevice);
  vj_emu::t_device = d;
  return cudaSuccess;
}
// The fields of cudaDeviceProp the backend reads.
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
};
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d < 0 || d >= vj_emu::device_count()) return vj_emu::fail_with(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::strcpy(p->name, "vjepa CPU emulator");
  p->totalGlobalMem = (size_t)8 << 30;
  cudaDeviceGetAttribute(&p->major, cudaDevAttrComputeCapabilityMajor, d);
  cudaDeviceGetAttribute(&p->minor, cudaDevAttrComputeCapabilityMinor, d);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  if (d < 0 || d >= vj_emu::device_count()) return vj_emu::fail_with(cudaErrorInvalidDevice);
  switch (a) {
    case cudaDevAttrComputeCapabilityMajor: {  // as an H100/H200, or VJEPA_EMU_SM_MAJOR (older GPUs' paths)
      const char* e = std::getenv("VJEPA_EMU_SM_MAJOR");
      *v = e && *e ? std::atoi(e) : 9;
      return cudaSuccess;
    }
    case cudaDevAttrComputeCapabilityMinor: *v = 0; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 232448; return cudaSuccess;
  }
  return vj_emu::fail_with(cudaErrorInvalidValue);
}
template <class F>
inline cudaError_t cudaFuncSetAttribute(F* f, cudaFuncAttribute, int v) {
  if (v < 0 || v > 232448) return vj_emu::fail_with(cudaErrorInvalidValue);
  vj_emu::smem_optin()[reinterpret_cast<const void*>(f)] = (size_t)v;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = vj_emu::alloc(n, true);
  return *p ? cudaSuccess : vj_emu::fail_with(cudaErrorMemoryAllocation);
}
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t n) {
  return cudaMalloc(reinterpret_cast<void**>(p), n);
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaHostAlloc(void** p, size_t n, unsigned) {
  *p = vj_emu::alloc(n, false);
  return *p ? cudaSuccess : vj_emu::fail_with(cudaErrorMemoryAllocation);
}
inline cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (n) std::memmove(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t = nullptr) {
  return cudaMemcpy(d, s, n, k);
}
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dpitch, const void* s, size_t spitch, size_t width, size_t height,
                                     cudaMemcpyKind, cudaStream_t = nullptr) {
  if (width > dpitch || width > spitch) return vj_emu::fail_with(cudaErrorInvalidValue);
  for (size_t r = 0; r < height; r++)
    std::memmove(static_cast<char*>(d) + r * dpitch, static_cast<const char*>(s) + r * spitch, width);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* d, int v, size_t n) {
  if (n) std::memset(d, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) { return cudaMemset(d, v, n); }
inline cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new int(0));
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned = 0) {
  return e ? cudaSuccess : vj_emu::fail_with(cudaErrorInvalidResourceHandle);
}
// An event holds the host time of its last record (every call here completes before it returns,
// so that is when the work before it finished) and whether it may be timed.
namespace vj_emu {
struct Event {
  bool timing = true, recorded = false;
  std::chrono::steady_clock::time_point at{};
};
}  // namespace vj_emu
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  auto* ev = new vj_emu::Event();
  ev->timing = !(flags & cudaEventDisableTiming);
  *e = reinterpret_cast<cudaEvent_t>(ev);
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<vj_emu::Event*>(e);
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = nullptr) {
  if (!e) return vj_emu::fail_with(cudaErrorInvalidResourceHandle);
  auto* ev = reinterpret_cast<vj_emu::Event*>(e);
  ev->recorded = true;
  ev->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
// As the runtime: both events recorded and made without cudaEventDisableTiming.
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  auto *x = reinterpret_cast<vj_emu::Event*>(a), *y = reinterpret_cast<vj_emu::Event*>(b);
  if (!x || !y || !x->timing || !y->timing) return vj_emu::fail_with(cudaErrorInvalidResourceHandle);
  if (!x->recorded || !y->recorded) return vj_emu::fail_with(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(y->at - x->at).count();
  return cudaSuccess;
}
inline cudaError_t cudaEventQuery(cudaEvent_t e) { return e ? cudaSuccess : vj_emu::fail_with(cudaErrorInvalidResourceHandle); }
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) { return cudaEventQuery(e); }
