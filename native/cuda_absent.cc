// Stand-ins used when the addon is built without nvcc: every CUDA request fails with a reason.
#ifndef VJEPA_WITH_CUDA
#include "backend.h"
#include "device.h"

namespace vj {
static const char* kNoCuda = "the CUDA backend is not compiled into this addon (nvcc was not found at build time)";
std::string cuda_unavailable_reason() { return kNoCuda; }
bool cuda_compiled() { return false; }
void* cuda_alloc(size_t, int) { fail(kNoCuda); }
void cuda_free(void*, int) {}
void cuda_copy_h2d(void*, const void*, size_t, int) { fail(kNoCuda); }
void cuda_copy_d2h(void*, const void*, size_t, int) { fail(kNoCuda); }
void cuda_copy_d2d(void*, const void*, size_t, int) { fail(kNoCuda); }
void cuda_memset0(void*, size_t, int) { fail(kNoCuda); }
void* cuda_upload_async(void*, const void*, size_t, int) { fail(kNoCuda); }
void cuda_upload_join(void*, int, bool) {}
void cuda_upload_drop(void*, int) {}
CudaUploadStats cuda_upload_stats(int) { return {}; }
CudaCacheStats cuda_cache_stats(int) { return {}; }
void cuda_empty_cache() {}
uint64_t cuda_lt_gemms() { return 0; }
uint64_t cuda_wgmma_attention() { return 0; }
std::vector<WgmmaSelfTestRow> cuda_wgmma_selftest() { fail(kNoCuda); }
void cuda_set_attention_kernels(int, int64_t, const std::string&, const std::string&) { fail(kNoCuda); }
CudaAttnKernels cuda_attention_kernels(int, int64_t) { fail(kNoCuda); }
uint64_t cuda_launches() { return 0; }
void cuda_stopwatch_start(int) { fail(kNoCuda); }
double cuda_stopwatch_stop(int) { fail(kNoCuda); }
CudaDeviceInfo cuda_device_info(int) { fail(kNoCuda); }
const Backend& cuda_backend() { fail(kNoCuda); }
}  // namespace vj
#endif
