// Device memory hooks. The CUDA backend implements them in native/cuda/memory.cu;
// without it, asking for CUDA memory throws a clear error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vj {
void* cuda_alloc(size_t nbytes, int device_index);
void cuda_free(void* p, int device_index);
void cuda_copy_h2d(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_copy_d2h(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_copy_d2d(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_memset0(void* dst, size_t nbytes, int device_index);

// Asynchronous host-to-device copy (native/cuda/memory.cu explains the ordering): stages src in
// pinned memory, so src may be reused on return, and copies on the device's copy stream.
// Returns the event the compute stream must wait for before dst is used, or nullptr when the
// copy has already completed. The caller keeps it on the destination's Storage.
void* cuda_upload_async(void* dst, const void* src, size_t nbytes, int device_index);
// Makes the compute stream wait for such an event (the host waits if that fails) and recycles
// it. Throws only when may_throw and the wait failed.
void cuda_upload_join(void* event, int device_index, bool may_throw);
// Recycles an event nobody needs to wait for (a later copy on the copy stream covers it).
void cuda_upload_drop(void* event, int device_index);
struct CudaUploadStats {
  size_t pinned_bytes = 0;    // page-locked staging memory held
  size_t pinned_buffers = 0;
  int64_t events_out = 0;     // uploads whose destination has not been used or freed yet
  uint64_t async_copies = 0;  // through a staging buffer
  uint64_t sync_copies = 0;   // no pinned memory to be had: copied from the caller's memory
};
CudaUploadStats cuda_upload_stats(int device_index);
struct CudaDeviceInfo {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_bytes = 0;
};
// Name, compute capability and memory of one device; throws when CUDA is unusable or the index is bad.
CudaDeviceInfo cuda_device_info(int device_index);
// GEMMs run on cuBLASLt (bias / bf16 rounding fused) since the addon loaded: 0 when Lt is
// missing, disabled (VJEPA_CUDA_NO_LT=1) or never had a call it could take.
uint64_t cuda_lt_gemms();
// Attention forwards run by the wgmma kernels (VJEPA_CUDA_ATTN_FWD=wgmma on sm_90) since the addon loaded.
uint64_t cuda_wgmma_attention();
// One wgmma product per operand layout and width the attention kernels use
// (native/cuda/wgmma_selftest.cu), exact on the device that has them; empty where wgmma is not there.
struct WgmmaSelfTestRow {
  std::string layout;
  double max_err;           // max |error|: 0 where the hardware reads the layout as wgmma.cuh does
  std::vector<int> widths;  // the kernels' product widths (wgmma_head_width) that use this layout
};
std::vector<WgmmaSelfTestRow> cuda_wgmma_selftest();
// The bf16 attention kernels for head_dim on cuda:device (native/cuda/attention_choice.cu): the
// tuner's choice, fwd "mma" or "wgmma" and bwd "split", "fused" or "wgmma" ("" forgets it);
// VJEPA_CUDA_ATTN_FWD / _BWD still override it. Throws on a bad name or head_dim.
void cuda_set_attention_kernels(int device, int64_t head_dim, const std::string& fwd, const std::string& bwd);
// What runs for head_dim on cuda:device, and where each choice comes from: "env", "tuned" or "default".
struct CudaAttnKernels {
  std::string fwd, bwd, fwd_from, bwd_from;
};
CudaAttnKernels cuda_attention_kernels(int device, int64_t head_dim);
// Kernels the CUDA backend launched since the addon loaded, counting each GEMM call as one
// (however many kernels cuBLAS runs for it); copies and memsets are not counted.
uint64_t cuda_launches();
// A stopwatch on cuda:device's compute stream (native/cuda/stopwatch.cu): start records an event,
// stop records another, waits for it and returns the GPU time between them in ms.
void cuda_stopwatch_start(int device);
double cuda_stopwatch_stop(int device);
// The caching allocator of one device: bytes held from cudaMalloc (in use or cached), and the
// free part kept for reuse. device_index -1 sums every device. Both are 0 with the cache off
// (VJEPA_CUDA_NO_CACHE=1), when every block goes straight back to the driver.
struct CudaCacheStats {
  size_t reserved_bytes = 0;
  size_t cached_bytes = 0;
};
CudaCacheStats cuda_cache_stats(int device_index);
// Returns every device's cached blocks and idle staging buffers to the driver (synchronises
// the devices that hold any).
void cuda_empty_cache();
// "" when CUDA can be used, otherwise the reason it cannot.
std::string cuda_unavailable_reason();
bool cuda_compiled();
}  // namespace vj
