// CUDA-only entry points that are not in the Backend table: allocator control and the TF32
// switch. Host-only declarations, safe to include from .cc files of an addon built with
// VJEPA_WITH_CUDA.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vj {

// Releases the caching allocator's free blocks back to the driver (synchronises the device).
void cuda_empty_cache();
struct CudaCacheStats {
  size_t reserved_bytes = 0;  // held from cudaMalloc, in use or cached
  size_t cached_bytes = 0;    // free, kept for reuse
};
CudaCacheStats cuda_cache_stats(int device_index);

// TF32 tensor cores for the fp32 GEMMs (off by default; VJEPA_CUDA_TF32=1 also turns it on).
void cuda_set_tf32(bool on);

}  // namespace vj
