// Device memory hooks. The CUDA backend implements them in native/cuda/memory.cu;
// without it, asking for CUDA memory throws a clear error.
#pragma once
#include <cstddef>
#include <string>

namespace vj {
void* cuda_alloc(size_t nbytes, int device_index);
void cuda_free(void* p, int device_index);
void cuda_copy_h2d(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_copy_d2h(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_copy_d2d(void* dst, const void* src, size_t nbytes, int device_index);
void cuda_memset0(void* dst, size_t nbytes, int device_index);
// "" when CUDA can be used, otherwise the reason it cannot.
std::string cuda_unavailable_reason();
bool cuda_compiled();
}  // namespace vj
